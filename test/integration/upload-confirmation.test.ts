/**
 * Confirmation of uploads by e-mail (reference §6.3, `[marketplace] validate_email`) on a real
 * `stratus serve` with a real SMTP server on loopback: an endorser outside the trust policy
 * gets 202 and a mail with the confirm, abort and abuse links; opening a link changes nothing;
 * its button stores the entry, drops it, or drops it and tells the administrators; links
 * expire and expired uploads are purged; a trusted endorser is stored at once; without SMTP
 * the mail is in the outbox.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSmtp, parseMime, headerLines } from '../helpers/smtp.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import type { TestSigner } from '../helpers/signing.js';
import type { EntryDraft } from '../../src/metadata/entry/build.js';
import { postEntry, storedEntries } from '../helpers/upload.js';
import { startServerProcess } from '../helpers/server.js';
import { eventually, follow, pendingRows, pressButton, readConfirmation, startConfirmingServer } from '../helpers/confirmation.js';

const dir = tempDir('stratus-confirm-');
const smtp = await startSmtp({});
const alice = makeSigner(dir, 'Alice Trusted', 'alice@example.org');
const bob = makeSigner(dir, 'Bob Outside', 'bob@example.org');
const server = await startConfirmingServer(dir, 'smtp', { smtpPort: smtp.port, trusted: [alice.subject], adminEmail: 'admin@stratus.example' });

/** The mails that arrived since `from`, to `to`. */
const mailsTo = (to: string, from = 0) => smtp.arrived.slice(from).filter((a) => a.rcptTo.includes(to));

/** An entry signed at the time it says it was made (the signer dates the endorsement). */
function signedNow(signer: TestSigner, overrides: Parameters<typeof draft>[0] = {}): { entry: EntryDraft; xml: string } {
  const now = new Date();
  const entry = draft(overrides, now);
  return { entry, xml: signedXml(signer, entry, { now }) };
}

async function holdAsBob(overrides: Parameters<typeof draft>[0] = {}): Promise<{ id: string; created: string; mail: ReturnType<typeof readConfirmation> }> {
  const before = smtp.arrived.length;
  const { entry, xml } = signedNow(bob, overrides);
  const res = await fetch(`${server.url}/metadata`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: xml });
  assert.equal(res.status, 202, await res.clone().text());
  assert.equal(await res.text(), 'confirmation email sent for new metadata entry\n');
  assert.equal(res.headers.get('location'), null, 'nothing stored, so nothing to point at');
  const mails = mailsTo(bob.email, before);
  assert.equal(mails.length, 1, 'one mail, to the endorser');
  const mail = readConfirmation(mails[0]!.raw);
  return { id: entry.identifier, created: entry.created ?? '', mail };
}

const listedIds = async (): Promise<string[]> => (await storedEntries(server.url)).map((e) => e.identifier);

test('an untrusted endorser: 202, a mail with the §6.3 text and three links to this server; nothing stored', async () => {
  const { id, created, mail } = await holdAsBob({ title: 'bob image' });
  assert.equal(mail.to, bob.email);
  assert.equal(mail.subject, `Confirm the upload of metadata entry ${id}`);
  assert.match(mail.text.replace(/\s+/g, ' '), new RegExp(`^A new metadata entry for image ID ${id}, endorsed at ${created} with this email address, has been uploaded to the Stratus Marketplace ${server.url.replace(/[.]/g, '\\.')} \\(title: bob image\\)\\. Please either confirm or abort this upload:`));
  for (const link of [mail.confirm, mail.abort, mail.abuse]) assert.ok(link.startsWith(`${server.url}/action/${mail.token}/`), link);
  assert.ok(mail.token.length >= 43, 'a 256-bit token');
  assert.equal(smtp.arrived.at(-1)?.mailFrom, 'marketplace@stratus.example');
  assert.ok(!(await listedIds()).includes(id));
  assert.equal((await fetch(`${server.url}/metadata/${id}/${bob.email}/${created}`)).status, 404);
  assert.equal(pendingRows(server.dataDir).filter((r) => r.identifier === id).length, 1);
});

test('opening a link (GET, HEAD, any representation, with or without the slash) changes nothing; the button (POST) confirms: 201, Location, listed; a second confirmation is 404', async () => {
  const { id, created, mail } = await holdAsBob();
  const page = await follow(mail.confirm, 'GET', { accept: 'text/html' });
  assert.equal(page.status, 200);
  assert.equal(page.type, 'text/html');
  assert.match(page.text, /<form id="action" method="post"><button type="submit" id="do-action">Confirm the upload<\/button><\/form>/);
  assert.match(page.text, new RegExp(`<td id="identifier" class="mono">${id}</td>`));
  assert.equal(page.headers.get('cache-control'), 'no-store');
  assert.equal(page.headers.get('referrer-policy'), 'same-origin');
  const json = await follow(mail.confirm.replace(/\/$/, ''), 'GET', { accept: 'application/json' });
  assert.deepEqual(JSON.parse(json.text), { ...JSON.parse(json.text), action: 'confirm', method: 'POST', url: mail.confirm, identifier: id, email: bob.email, created, deprecating: false });
  const plain = await follow(mail.abort, 'GET');
  assert.equal(plain.type, 'text/plain');
  assert.match(plain.text, /Opening this link changes nothing\. To abort it \(nothing is stored\), POST to it:/);
  assert.equal((await follow(mail.abuse, 'HEAD')).status, 200);
  assert.ok(!(await listedIds()).includes(id), 'still not stored after every GET');
  assert.equal(pendingRows(server.dataDir).filter((r) => r.identifier === id).length, 1, 'and still pending: no GET aborted or reported it');

  const confirmed = await pressButton(mail.confirm, 'text/plain');
  assert.equal(confirmed.status, 201, confirmed.text);
  assert.equal(confirmed.text, 'metadata entry created\n');
  const location = confirmed.headers.get('location');
  assert.equal(location, `${server.url}/metadata/${id}/${bob.email}/${created}`, 'with the slash after metadata that StratusLab left out');
  assert.equal((await fetch(location ?? '')).status, 200);
  assert.ok((await listedIds()).includes(id));
  const again = await pressButton(mail.confirm, 'application/json');
  assert.equal(again.status, 404);
  assert.equal(again.headers.get('x-stratus-error'), 'PENDING_UPLOAD_NOT_FOUND');
  assert.match(JSON.parse(again.text)['404'], /no upload waits for confirmation under this link: it was confirmed, aborted or reported already, it expired, or the link is wrong/);
  assert.equal((await follow(mail.abort, 'GET')).status, 404, 'the other links went with it');
});

test('abort drops the upload: 200, nothing stored, every link then 404', async () => {
  const { id, mail } = await holdAsBob();
  const aborted = await follow(mail.abort.replace(/\/$/, ''), 'POST', { accept: 'application/json' });
  assert.equal(aborted.status, 200, aborted.text);
  assert.equal(JSON.parse(aborted.text).status, 'aborted');
  assert.equal((await pressButton(mail.confirm)).status, 404);
  assert.ok(!(await listedIds()).includes(id));
  assert.equal(pendingRows(server.dataDir).filter((r) => r.identifier === id).length, 0);
});

test('abuse drops the upload and mails admin_email the endorser and the identifier', async () => {
  const { id, created, mail } = await holdAsBob();
  const before = smtp.arrived.length;
  const reported = await pressButton(mail.abuse, 'text/plain');
  assert.equal(reported.status, 200, reported.text);
  assert.match(reported.text, /^administrators have been notified/);
  const toAdmin = mailsTo('admin@stratus.example', before);
  assert.equal(toAdmin.length, 1);
  const report = parseMime(toAdmin[0]!.raw);
  assert.equal(report.headers.get('subject'), `Abuse reported: metadata entry ${id}`);
  const text = report.body.toString('utf8');
  assert.match(text, new RegExp(`Identifier: +${id}`));
  assert.match(text, new RegExp(`Endorser e-mail: +${bob.email.replace('.', '\\.')}`));
  assert.match(text, new RegExp(`Endorsed at: +${created}`));
  assert.equal((await pressButton(mail.confirm)).status, 404);
  assert.ok(!(await listedIds()).includes(id));
});

test('a trusted endorser is stored at once (201), and mailed nothing', async () => {
  const before = smtp.arrived.length;
  const entry = draft();
  const res = await postEntry(server.url, signedXml(alice, entry));
  assert.equal(res.status, 201, res.body);
  assert.equal(smtp.arrived.length, before);
  assert.ok((await listedIds()).includes(entry.identifier));
});

test('a bad entry is refused at once (400) and nobody is mailed; JSON and the web form get their own answers', async () => {
  const before = smtp.arrived.length;
  const tampered = signedXml(bob, draft()).replace('debian-12-base', 'debian-12-evil');
  const refused = await postEntry(server.url, tampered);
  assert.equal(refused.status, 400);
  assert.equal(refused.code, 'SIGNATURE_INVALID');
  assert.equal(smtp.arrived.length, before);

  const { entry, xml } = signedNow(bob);
  const json = await postEntry(server.url, xml);
  assert.equal(json.status, 202, json.body);
  const body = JSON.parse(json.body) as { status: string; path: string; to: string; expires: string };
  assert.deepEqual({ ...body, expires: '' }, { status: 'pending', path: `/metadata/${entry.identifier}/${bob.email}/${entry.created}`, to: bob.email, expires: '' });
  const hours = (Date.parse(body.expires) - Date.now()) / 3_600_000;
  assert.ok(hours > 23.9 && hours <= 24, `links valid 24 h by default (${hours})`);

  const form = new FormData();
  form.append('Metadata File', new Blob([signedXml(bob, draft())], { type: 'application/xml' }), 'entry.xml');
  const page = await fetch(`${server.url}/metadata`, { method: 'POST', body: form, headers: { accept: 'text/html' } });
  assert.equal(page.status, 202);
  assert.match(await page.text(), /<h1 id="pending">Confirmation e-mail sent<\/h1>[\s\S]*<span class="mono" id="to">bob@example\.org<\/span>/);
  assert.equal(mailsTo(bob.email, before).length, 2);
});

test('an identical re-upload of a stored entry is 200 without a mail; a second upload of a pending one replaces its links', async () => {
  const entry = draft();
  const xml = signedXml(bob, entry);
  const first = await postEntry(server.url, xml);
  const firstMail = readConfirmation(smtp.arrived.at(-1)!.raw);
  assert.equal(first.status, 202);
  const second = await postEntry(server.url, xml);
  assert.equal(second.status, 202);
  const secondMail = readConfirmation(smtp.arrived.at(-1)!.raw);
  assert.notEqual(secondMail.token, firstMail.token);
  assert.equal((await pressButton(firstMail.confirm)).status, 404, 'the first links were replaced');
  assert.equal((await pressButton(secondMail.confirm)).status, 201);
  const before = smtp.arrived.length;
  const again = await postEntry(server.url, xml);
  assert.equal(again.status, 200, again.body);
  assert.equal(smtp.arrived.length, before);
});

test('without SMTP the mail is in the outbox; links expire (pending_upload_hours), expired uploads are purged while serving and at start-up', async () => {
  const outboxServer = await startConfirmingServer(dir, 'outbox', { hours: 0.0005 });
  assert.match(outboxServer.log(), /Uploads by endorsers outside the trust policy wait for confirmation by e-mail \(links valid 0\.0005 h\)/);
  const outbox = join(outboxServer.dataDir, 'outbox');
  const entry = draft();
  const res = await postEntry(outboxServer.url, signedXml(bob, entry));
  assert.equal(res.status, 202, res.body);
  const files = readdirSync(outbox).filter((n) => n.endsWith('.eml'));
  assert.equal(files.length, 1);
  const raw = readFileSync(join(outbox, files[0]!), 'utf8');
  assert.ok(headerLines(raw).includes(`To: ${bob.email}`));
  const mail = readConfirmation(raw);
  assert.ok(mail.confirm.startsWith(`${outboxServer.url}/action/`));
  assert.equal((await follow(mail.confirm, 'GET')).status, 200, 'valid at first');
  // 1.8 s of validity; then the link is refused, whether or not the purge has run.
  await new Promise((r) => setTimeout(r, 2000));
  const late = await pressButton(mail.confirm, 'application/json');
  assert.equal(late.status, 404);
  assert.equal(late.headers.get('x-stratus-error'), 'PENDING_UPLOAD_NOT_FOUND');
  assert.deepEqual((await storedEntries(outboxServer.url)).map((e) => e.identifier), []);
  await eventually(() => pendingRows(outboxServer.dataDir).length === 0, 'the purge while serving');

  // One that expires while the server is down goes at the next start.
  const held = await postEntry(outboxServer.url, signedXml(bob, draft()));
  assert.equal(held.status, 202);
  await outboxServer.stop();
  assert.equal(pendingRows(outboxServer.dataDir).length, 1);
  await new Promise((r) => setTimeout(r, 2000));
  const restarted = await startServerProcess(outboxServer.dataDir);
  assert.match(restarted.log(), /Removed 1 expired upload that waited for confirmation/);
  assert.equal(pendingRows(outboxServer.dataDir).length, 0);
  await restarted.stop();
});

test('without validate_email (the default) every link is unknown, and an upload outside the trust policy is refused as before', async () => {
  const plain = await startServerProcess(join(dir, 'plain'));
  const link = await follow(`${plain.url}/action/${'A'.repeat(43)}/confirm/`, 'GET', { accept: 'application/json' });
  assert.equal(link.status, 404);
  assert.equal(link.headers.get('x-stratus-error'), 'PENDING_UPLOAD_NOT_FOUND');
  assert.equal((await postEntry(plain.url, signedXml(bob, draft()))).status, 201, 'no trust policy, no confirmation: stored, as StratusLab shipped');
  await plain.stop();
});

test('a confirmation mail that cannot be sent keeps nothing: 502 MAIL_FAILED, no pending upload, and the entry can be uploaded again', async () => {
  const refusing = await startSmtp({ refuseRecipient: (a) => a === bob.email });
  const failing = await startConfirmingServer(dir, 'refusing', { smtpPort: refusing.port });
  const { xml } = signedNow(bob);
  const res = await postEntry(failing.url, xml);
  assert.equal(res.status, 502, res.body);
  assert.equal(res.code, 'MAIL_FAILED');
  assert.match(res.message, /refused the sender or the recipient: 550/);
  assert.deepEqual(pendingRows(failing.dataDir), []);
  await failing.stop();
});
