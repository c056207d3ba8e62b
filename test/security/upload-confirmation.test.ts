/**
 * Attacks on the confirmation of uploads by e-mail (validate_email) against a real
 * `stratus serve` and a real SMTP server on loopback: guessed, forged and leaked tokens, a
 * link used twice (and twice at once), an entry that claims a trusted endorser's address,
 * header injection through the certificate's e-mail and the entry's text, and a pending
 * upload looked for through every read route before it is confirmed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { headerLines, startSmtp } from '../helpers/smtp.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import type { TestSigner } from '../helpers/signing.js';
import { postEntry } from '../helpers/upload.js';
import { follow, pendingRows, pressButton, readConfirmation, startConfirmingServer } from '../helpers/confirmation.js';
import { signAsIs, unsigned } from '../helpers/forge.js';
import { certificateWithEmail } from '../helpers/odd-certificate.js';
import { loadPem } from '../../src/metadata/cert/credentials.js';
import { parseXml } from '../../src/metadata/xml/parse.js';
import { serializeDocument } from '../../src/metadata/xml/serialize.js';
import { signDocument } from '../../src/metadata/dsig/sign.js';
import type { SigningCredentials } from '../../src/metadata/cert/credentials.js';

const dir = tempDir('stratus-confirm-attacks-');
const ADMIN_PASSWORD = 'admin-confirm-attacks';
const smtp = await startSmtp({});
const alice = makeSigner(dir, 'Alice Trusted', 'alice@example.org');
const bob = makeSigner(dir, 'Bob Outside', 'bob@example.org');
const server = await startConfirmingServer(dir, 'data', { smtpPort: smtp.port, trusted: [alice.subject], env: { STRATUS_ADMIN_PASSWORD: ADMIN_PASSWORD } });
const admin = { authorization: 'Basic ' + Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64') };

const signerOf = (credentials: SigningCredentials): TestSigner => ({ p12Path: '', password: '', credentials, email: credentials.cert.email ?? '', subject: credentials.cert.subject });

/** Holds an upload of bob's; its identifier and its mail. */
async function hold(overrides: Parameters<typeof draft>[0] = {}): Promise<{ id: string; mail: ReturnType<typeof readConfirmation> }> {
  const entry = draft(overrides);
  const res = await postEntry(server.url, signedXml(bob, entry));
  assert.equal(res.status, 202, res.body);
  return { id: entry.identifier, mail: readConfirmation(smtp.arrived.at(-1)!.raw) };
}

const stored = async (id: string): Promise<number> => {
  const res = await fetch(`${server.url}/metadata?media=json&status=all&identifier=${id}`, { headers: admin });
  return ((await res.json()) as { entries: unknown[] }).entries.length;
};

function assertNotFound(answer: { status: number; headers: Headers; text: string }, what: string): void {
  assert.equal(answer.status, 404, `${what}: ${answer.text}`);
  assert.equal(answer.headers.get('x-stratus-error'), 'PENDING_UPLOAD_NOT_FOUND', what);
}

test('guessed and forged tokens are 404 on every link, and the real link still works after them', async () => {
  const { id, mail } = await hold();
  const base = mail.confirm.replace(/\/action\/.*$/, '');
  const flip = (t: string): string => (t[5] === 'A' ? 'B' : 'A');
  const forged = [
    randomBytes(32).toString('base64url'),
    mail.token.slice(0, 5) + flip(mail.token) + mail.token.slice(6),
    mail.token.toUpperCase() === mail.token ? mail.token.toLowerCase() : mail.token.toUpperCase(),
    mail.token + 'x',
    mail.token.slice(0, -1),
    'A'.repeat(43),
    encodeURIComponent('../../metadata'),
  ];
  for (const token of forged) {
    for (const action of ['confirm', 'abort', 'abuse']) {
      assertNotFound(await follow(`${base}/action/${token}/${action}/`, 'GET', { accept: 'application/json' }), `GET ${action} ${token}`);
      assertNotFound(await follow(`${base}/action/${token}/${action}/`, 'POST', { accept: 'application/json' }), `POST ${action} ${token}`);
    }
  }
  const huge = await follow(`${base}/action/${'A'.repeat(300)}/confirm`, 'POST', { accept: 'application/json' });
  assert.equal(huge.status, 414, 'a token far longer than any we make is refused before routing');
  assert.equal(await stored(id), 0);
  assert.equal((await pressButton(mail.confirm)).status, 201, 'the guesses used nothing up');
});

test('the database holds no working link: only the SHA-256 of the token, which opens nothing', async () => {
  const { mail } = await hold();
  const row = pendingRows(server.dataDir).find((r) => r.token_hash === createHash('sha256').update(mail.token).digest('hex'));
  assert.ok(row, 'the row is keyed by the hash of the token');
  for (const file of readdirSync(server.dataDir).filter((n) => n.startsWith('stratus.db'))) {
    assert.ok(!readFileSync(join(server.dataDir, file)).includes(mail.token), `${file} does not hold the token`);
  }
  assertNotFound(await pressButton(mail.confirm.replace(mail.token, row.token_hash), 'application/json'), 'the hash as a token');
  assert.equal((await pressButton(mail.abort)).status, 200);
});

test('a confirm link works once: a second confirmation, racing ones, and every link after abort are 404; the entry is stored once', async () => {
  const first = await hold();
  assert.equal((await pressButton(first.mail.confirm)).status, 201);
  assertNotFound(await pressButton(first.mail.confirm, 'application/json'), 'confirm again');
  assertNotFound(await pressButton(first.mail.abort, 'application/json'), 'abort after confirm');
  assertNotFound(await pressButton(first.mail.abuse, 'application/json'), 'abuse after confirm');
  assert.equal(await stored(first.id), 1);

  const raced = await hold();
  const answers = await Promise.all(Array.from({ length: 6 }, () => pressButton(raced.mail.confirm, 'application/json')));
  assert.deepEqual(answers.map((a) => a.status).sort(), [201, 404, 404, 404, 404, 404]);
  assert.equal(await stored(raced.id), 1);

  const aborted = await hold();
  assert.equal((await pressButton(aborted.mail.abort)).status, 200);
  assertNotFound(await pressButton(aborted.mail.confirm, 'application/json'), 'confirm after abort');
  assert.equal(await stored(aborted.id), 0);
});

test('opening links changes nothing; a cross-site POST is refused and leaves the upload pending', async () => {
  const { id, mail } = await hold();
  for (const accept of ['text/html', 'application/json', 'application/xml', 'text/plain', '*/*']) {
    for (const link of [mail.confirm, mail.abort, mail.abuse]) assert.equal((await follow(link, 'GET', { accept })).status, 200);
  }
  const forged = await follow(mail.confirm, 'POST', { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' }, '');
  assert.equal(forged.status, 403);
  assert.equal(forged.headers.get('x-stratus-error'), 'CROSS_SITE_REFUSED');
  assert.equal(await stored(id), 0);
  assert.equal(pendingRows(server.dataDir).filter((r) => r.identifier === id).length, 1);
  assert.equal((await pressButton(mail.abort)).status, 200);
});

test('an entry that claims a trusted endorser\'s address is never held under it, and never mails it', async () => {
  const before = smtp.arrived.length;
  const mallory = makeSigner(dir, 'Mallory', 'mallory@example.org');
  // Alice's endorsement block, signed with mallory's key and certificate.
  const claimed = signAsIs(unsigned(signedXml(alice, draft())), mallory.credentials);
  const inconsistent = await postEntry(server.url, claimed);
  assert.equal(inconsistent.status, 400, inconsistent.body);
  assert.equal(inconsistent.code, 'ENDORSER_INCONSISTENT');

  // A certificate with no e-mail at all, the entry naming alice's.
  const keys = join(dir, 'nomail');
  mkdirSync(keys, { recursive: true });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'nomail.key', '-out', 'nomail.pem', '-subj', '/C=EU/O=Test/CN=No Mail', '-days', '30'],
    { cwd: keys, stdio: ['ignore', 'pipe', 'pipe'] });
  const doc = parseXml(signedXml(bob, draft()));
  signDocument(doc, { credentials: loadPem(join(keys, 'nomail.pem'), join(keys, 'nomail.key')), email: alice.email });
  const noMail = await postEntry(server.url, serializeDocument(doc));
  assert.equal(noMail.status, 403, noMail.body);
  assert.equal(noMail.code, 'TRUST_REJECTED');
  assert.match(noMail.message, /the signing certificate carries no e-mail address \(subjectAltName rfc822Name\) to ask; the entry names "alice@example\.org", which the certificate does not vouch for/);
  assert.equal(smtp.arrived.length, before, 'nobody was mailed');
  assert.equal(pendingRows(server.dataDir).filter((r) => r.email === alice.email).length, 0);
});

test('under a CA bundle, a copy of a trusted certificate\'s names with the attacker\'s own key is held, and the mail goes to the certificate\'s address only', async () => {
  const ca = join(dir, 'ca');
  mkdirSync(ca, { recursive: true });
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: ca, stdio: ['ignore', 'pipe', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/C=EU/O=Test/CN=Test CA', '-days', '30');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/C=EU/O=Test/CN=Leaf Signer');
  writeFileSync(join(ca, 'leaf.ext'), 'subjectAltName=email:leaf@example.org\n');
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '30', '-extfile', 'leaf.ext');
  const leaf = signerOf(loadPem(join(ca, 'leaf.pem'), join(ca, 'leaf.key')));
  const caServer = await startConfirmingServer(dir, 'ca-data', { smtpPort: smtp.port, marketplace: `trust_ca_bundle = ${join(ca, 'ca.pem')}` });
  const before = smtp.arrived.length;
  assert.equal((await postEntry(caServer.url, signedXml(leaf, draft()))).status, 201, 'the CA\'s own leaf is trusted');
  assert.equal(smtp.arrived.length, before);

  const copy = signerOf(certificateWithEmail('unused', 'mallory@example.org', {
    subject: [{ shortName: 'C', value: 'EU' }, { shortName: 'O', value: 'Test' }, { shortName: 'CN', value: 'Leaf Signer' }],
    issuer: [{ shortName: 'C', value: 'EU' }, { shortName: 'O', value: 'Test' }, { shortName: 'CN', value: 'Test CA' }],
  }));
  assert.equal(copy.subject, leaf.subject, 'the same subject DN');
  const held = await postEntry(caServer.url, signedXml(copy, draft()));
  assert.equal(held.status, 202, held.body);
  assert.deepEqual(smtp.arrived.slice(before).map((a) => a.rcptTo), [['mallory@example.org']], 'to the certificate\'s address, not the trusted leaf\'s');
  await caServer.stop();
});

test('mail header injection through the certificate\'s e-mail is refused before anything is kept or sent', async () => {
  // The schema refuses most of these; what passes it but is still no plain address (empty
  // domain labels) meets the Marketplace's own check before a mail is composed.
  const cases: Array<[string, string]> = [
    ['mallory@example.org\nBcc: victim@example.org', 'METADATA_INVALID'],
    ['mallory@example.org\r\nBcc: victim@example.org', 'METADATA_INVALID'],
    ['victim@example.org, mallory@example.org', 'METADATA_INVALID'],
    ['Mallory <mallory@example.org>', 'METADATA_INVALID'],
    ['mallory@example..org', 'EMAIL_INVALID'],
  ];
  for (const [email, code] of cases) {
    const before = smtp.arrived.length;
    const odd = signerOf(certificateWithEmail('Odd Mail', email));
    assert.equal(odd.credentials.cert.email, email, 'the certificate carries the address as written');
    // stratus-sign-metadata refuses such an address; the attacker writes the endorsement by hand
    // (a character reference keeps a carriage return through XML parsing).
    const xmlText = (v: string): string => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\r/g, '&#13;');
    const endorser = `<email>${xmlText(email)}</email><subject>${xmlText(odd.subject)}</subject><issuer>${xmlText(odd.credentials.cert.issuer)}</issuer>`;
    const doc = unsigned(signedXml(bob, draft())).replace(/<email>[^<]*<\/email><subject>[^<]*<\/subject><issuer>[^<]*<\/issuer>/, endorser);
    const res = await postEntry(server.url, signAsIs(doc, odd.credentials));
    assert.equal(res.status, 400, `${JSON.stringify(email)}: ${res.body}`);
    assert.equal(res.code, code, `${JSON.stringify(email)}: ${res.message}`);
    if (code === 'EMAIL_INVALID') assert.match(res.message, /the signing certificate's e-mail address "mallory@example\.\.org" is not a plain e-mail address, so no confirmation can be sent to it/);
    assert.equal(smtp.arrived.length, before, `${JSON.stringify(email)}: nothing sent`);
  }
  assert.deepEqual(pendingRows(server.dataDir).filter((r) => /victim|mallory/i.test(r.email)), [], 'nothing kept');
});

test('header text in the entry (title with a line break) stays in the body: one recipient, no injected header', async () => {
  const before = smtp.arrived.length;
  const { mail } = await hold({ title: 'innocent\r\nBcc: victim@example.org\r\nSubject: pwned' });
  const arrived = smtp.arrived.slice(before);
  assert.equal(arrived.length, 1);
  assert.deepEqual(arrived[0]?.rcptTo, [bob.email]);
  const headers = headerLines(arrived[0]!.raw);
  assert.ok(!headers.some((h) => /^(bcc|cc):/i.test(h)), headers.join('\n'));
  assert.equal(headers.filter((h) => /^subject:/i.test(h)).length, 1);
  assert.match(mail.text, /title: innocent Bcc: victim@example\.org Subject: pwned/);
  assert.equal((await pressButton(mail.abort)).status, 200);
});

test('a pending upload is in no listing, entry, endorser or tag route, for anyone (the admin included), until it is confirmed', async () => {
  const entry = draft({ alternative: 'pending-tag' });
  const xml = signedXml(bob, entry);
  assert.equal((await postEntry(server.url, xml)).status, 202);
  const mail = readConfirmation(smtp.arrived.at(-1)!.raw);
  const created = /endorsed at (\S+) with/.exec(mail.text)?.[1] ?? '';
  const routes = [
    `/metadata?media=xml&status=all`, `/metadata?media=json&status=all`, `/metadata?media=html&status=all`, `/metadata/${entry.identifier}?status=all`,
    `/metadata/${bob.email}?media=json&status=all`, `/metadata/${entry.identifier}/${bob.email}/${created}`, `/metadata/${entry.identifier}/${bob.email}/${created}?media=json`,
    `/endorsers?media=json`, `/endorsers/${bob.email}?media=json`, `/endorsers/${bob.email}/tags?media=json`, `/tag/${bob.email}/pending-tag?media=json`, '/?status=all',
  ];
  const look = async (): Promise<string[]> => {
    const seen: string[] = [];
    for (const path of routes) {
      for (const headers of [{}, admin]) {
        const text = await (await fetch(server.url + path, { headers })).text();
        if (text.includes(entry.identifier) || text.includes('pending-tag')) seen.push(path);
      }
    }
    const form = await fetch(`${server.url}/metadata`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `sSearch=${entry.identifier}&status=all` });
    if ((await form.text()).includes(entry.identifier)) seen.push('POST /metadata (DataTables)');
    return seen;
  };
  assert.deepEqual(await look(), [], 'nowhere before confirmation');
  assert.equal((await pressButton(mail.confirm)).status, 201);
  const after = await look();
  assert.ok(after.includes(`/metadata/${entry.identifier}/${bob.email}/${created}`) && after.includes('POST /metadata (DataTables)') && after.includes(`/tag/${bob.email}/pending-tag?media=json`), `listed once confirmed: ${after.join(', ')}`);
});
