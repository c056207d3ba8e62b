/**
 * Issue 8 §1, performed against a real `stratus serve`: an attacker with a key of their own
 * tries to file entries under Jane's name (RSAKeyValue-only signatures, a decoy endorser),
 * to hide unsigned content in a signed entry (ds:Signature extras, comments), and to lock
 * Jane out with an endorsement dated in the future. Every attempt is refused with a reason,
 * nothing is stored under Jane, and her own uploads keep working.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import type { TestSigner } from '../helpers/signing.js';
import { rsaKeyValue, signAsIs, uncheckedVerifier, unsigned, x509KeyInfo } from '../helpers/forge.js';
import { buildTestApp } from '../helpers/app.js';
import { dataDirWithConfig, postEntry, storedEntries } from '../helpers/upload.js';
import type { UploadAnswer } from '../helpers/upload.js';
import { loadPem } from '../../src/metadata/cert/credentials.js';
import { parseXml } from '../../src/metadata/xml/parse.js';
import { serializeDocument } from '../../src/metadata/xml/serialize.js';
import { signDocument } from '../../src/metadata/dsig/sign.js';

const dir = tempDir('stratus-sec-signatures-');
const subdir = (name: string): string => {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
};
const jane = makeSigner(subdir('jane'), 'Jane Tester', 'jane.tester@example.org');
const mallory = makeSigner(subdir('mallory'), 'Mallory', 'mallory@example.org');
// Without a trust policy anyone can make a certificate that names Jane: the date attack needs no more.
const impostor = makeSigner(subdir('impostor'), 'Jane Tester', 'jane.tester@example.org');
const server = await startServerProcess(join(dir, 'data'));

/** The endorser block of a signed entry rewritten to name `who`. */
function claim(xml: string, who: TestSigner): string {
  const endorser = `<email>${who.email}</email><subject>${who.subject}</subject><issuer>${who.credentials.cert.issuer}</issuer>`;
  const out = xml.replace(/<email>[^<]*<\/email><subject>[^<]*<\/subject><issuer>[^<]*<\/issuer>/, endorser);
  assert.notEqual(out, xml, 'the entry has an endorser block to rewrite');
  return out;
}

/**
 * A decoy endorser where the schema lets one sit before the endorsement: in an rdf:type
 * resource at the head of rdf:Description. StratusLab's check read the first slreq:email,
 * slreq:subject and slreq:issuer of the document, which were then the decoy's.
 */
function withDecoy(xml: string, who: { email: string; subject: string; issuer: string }): string {
  const decoy = `<rdf:type rdf:parseType="Resource"><slreq:email>${who.email}</slreq:email>`
    + `<slreq:subject>${who.subject}</slreq:subject><slreq:issuer>${who.issuer}</slreq:issuer></rdf:type>`;
  const out = xml.replace('<dcterms:identifier>', `${decoy}<dcterms:identifier>`);
  assert.notEqual(out, xml);
  return out;
}

/** `fragment` inserted inside ds:Signature, after KeyInfo (outside what the signature covers). */
function insideSignature(xml: string, fragment: string): string {
  assert.ok(xml.includes('</Signature>'));
  return xml.replace('</Signature>', `${fragment}</Signature>`);
}

function assertRefused(answer: UploadAnswer, status: number, code: string, message: RegExp): void {
  assert.equal(answer.status, status, answer.body);
  assert.equal(answer.code, code, answer.body);
  assert.match(answer.message, message);
}

async function entriesOf(email: string, url = server.url): Promise<string[]> {
  return (await storedEntries(url)).filter((e) => e.email === email).map((e) => e.identifier);
}

test('the forge is sound: an entry signed as-is with a certificate and its own identity is accepted', async () => {
  const xml = signAsIs(unsigned(signedXml(mallory, draft())), mallory.credentials);
  const answer = await postEntry(server.url, xml);
  assert.equal(answer.status, 201, answer.body);
});

test('an RSAKeyValue-only signature claiming Jane is refused: no certificate, no entry', async () => {
  const forged = signAsIs(claim(unsigned(signedXml(mallory, draft())), jane), mallory.credentials, { keyInfo: rsaKeyValue(mallory.credentials.cert.publicKey) });
  const answer = await postEntry(server.url, forged);
  assertRefused(answer, 400, 'SIGNATURE_INVALID', /signature has no X\.509 certificate: ds:KeyInfo holds KeyValue/);
  assert.match(answer.body, /ds:X509Certificate/, 'the hint says what to send instead');
  assert.deepEqual(await entriesOf(jane.email), []);
});

test('a certificate with a bare key beside it is refused too: KeyInfo holds only X509Data', async () => {
  const keyInfo = x509KeyInfo(mallory.credentials).replace('</KeyInfo>', `${rsaKeyValue(mallory.credentials.cert.publicKey).replace(/<\/?KeyInfo>/g, '')}</KeyInfo>`);
  const answer = await postEntry(server.url, signAsIs(unsigned(signedXml(mallory, draft())), mallory.credentials, { keyInfo }));
  assertRefused(answer, 400, 'SIGNATURE_INVALID', /ds:KeyInfo may hold only ds:X509Data; it holds X509Data, KeyValue/);
});

test('a decoy endorser before the endorsement is refused: the indexed endorsement is the one checked', async () => {
  const own = { email: mallory.email, subject: mallory.subject, issuer: mallory.credentials.cert.issuer };
  const forged = signAsIs(withDecoy(claim(unsigned(signedXml(mallory, draft())), jane), own), mallory.credentials);
  const answer = await postEntry(server.url, forged);
  assertRefused(answer, 400, 'ENDORSER_INCONSISTENT', /endorser inconsistency \(subject\): CN=Mallory,.* != CN=Jane Tester,/);
  assert.deepEqual(await entriesOf(jane.email), []);
});

test('endorser-like elements outside the endorsement are refused even when the endorsement is honest', async () => {
  const own = { email: mallory.email, subject: mallory.subject, issuer: mallory.credentials.cert.issuer };
  const answer = await postEntry(server.url, signAsIs(withDecoy(unsigned(signedXml(mallory, draft())), own), mallory.credentials));
  assertRefused(answer, 400, 'ENDORSER_INCONSISTENT', /slreq:email at rdf:RDF\/rdf:Description\/rdf:type\/slreq:email is not part of the entry's endorsement/);
  assert.match(answer.body, /Remove every slreq:endorsement/);
});

test('a second endorser inside the endorsement is refused', async () => {
  const signed = unsigned(signedXml(mallory, draft()));
  const second = signed.replace('</endorser></slreq:endorsement>',
    `</endorser><slreq:endorser rdf:parseType="Resource"><slreq:email>${jane.email}</slreq:email></slreq:endorser></slreq:endorsement>`);
  assert.notEqual(second, signed);
  const answer = await postEntry(server.url, signAsIs(second, mallory.credentials));
  assertRefused(answer, 400, 'ENDORSER_INCONSISTENT', /slreq:endorser at .*slreq:endorsement\/slreq:endorser is not part of the entry's endorsement/);
});

test('an XHTML script in a ds:Object inside the signature is refused, though the signature verifies', async () => {
  const object = '<Object Id="payload"><html:script xmlns:html="http://www.w3.org/1999/xhtml">alert(document.domain)</html:script></Object>';
  const answer = await postEntry(server.url, insideSignature(signedXml(mallory, draft()), object));
  assertRefused(answer, 400, 'SIGNATURE_INVALID', /ds:Signature may hold only ds:SignedInfo, ds:SignatureValue, ds:KeyInfo, in that order; it holds SignedInfo, SignatureValue, KeyInfo, Object/);
});

test('any extra element inside ds:Signature is refused, markup or not', async () => {
  for (const extra of ['<Object>plain unsigned text</Object>', '<ex:note xmlns:ex="urn:example:x">unsigned</ex:note>']) {
    const answer = await postEntry(server.url, insideSignature(signedXml(mallory, draft()), extra));
    assertRefused(answer, 400, 'SIGNATURE_INVALID', /ds:Signature may hold only ds:SignedInfo, ds:SignatureValue, ds:KeyInfo/);
  }
  const nestedSecond = signedXml(mallory, draft()).replace('<dcterms:type>', '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/><dcterms:type>');
  assertRefused(await postEntry(server.url, nestedSecond), 400, 'SIGNATURE_INVALID', /found 2 ds:Signature elements/);
});

test('comments in a signed entry are refused: C14N without comments leaves them unsigned', async () => {
  const signed = signedXml(mallory, draft());
  const inside = signed.replace('<dcterms:type>', '<!-- <script>alert(1)</script> --><dcterms:type>');
  assertRefused(await postEntry(server.url, inside), 400, 'METADATA_UNSAFE', /comment in rdf:RDF\/rdf:Description: comments are refused/);
  const outside = `${signed}<!-- trailing note -->`;
  assertRefused(await postEntry(server.url, outside), 400, 'METADATA_UNSAFE', /comment outside the root element/);
  // C14N keeps processing instructions, so this one is signed: only the content check refuses it.
  const pi = signAsIs(unsigned(signed).replace('<rdf:RDF', '<?xml-stylesheet type="text/xsl" href="http://attacker.example/x.xsl"?><rdf:RDF'), mallory.credentials);
  assertRefused(await postEntry(server.url, pi), 400, 'METADATA_UNSAFE', /processing instruction <\?xml-stylesheet\?>/);
});

test('an endorsement dated 9999 is refused, and the victim\'s real uploads still work', async () => {
  const image = draft();
  const forged = signedXml(impostor, image, { now: new Date('9999-12-31T23:59:59Z') });
  const answer = await postEntry(server.url, forged);
  assertRefused(answer, 400, 'ENDORSEMENT_IN_FUTURE', /dcterms:created 9999-12-31T23:59:59Z is \d+ s ahead of this server's clock .*at most 300 s is accepted/);
  assert.deepEqual(await entriesOf(jane.email), []);
  assert.equal((await postEntry(server.url, signedXml(jane, image))).status, 201, 'Jane publishes her image');
  const later = await postEntry(server.url, signedXml(jane, image, { now: new Date(Date.now() + 1000) }));
  assert.equal(later.status, 201, `and its next entry: ${later.body}`);
  assert.deepEqual(await entriesOf(jane.email), [image.identifier]);
});

test('an endorsement within the margin (clock drift) is accepted', async () => {
  const answer = await postEntry(server.url, signedXml(mallory, draft(), { now: new Date(Date.now() + 120_000) }));
  assert.equal(answer.status, 201, answer.body);
});

test('the future margin is configurable (max_created_ahead_seconds)', async () => {
  const strict = await startServerProcess(dataDirWithConfig(dir, 'strict', '[marketplace]\nmax_created_ahead_seconds = 10\n'));
  const ahead = await postEntry(strict.url, signedXml(mallory, draft(), { now: new Date(Date.now() + 120_000) }));
  assertRefused(ahead, 400, 'ENDORSEMENT_IN_FUTURE', /at most 10 s is accepted/);
  assert.equal((await postEntry(strict.url, signedXml(mallory, draft()))).status, 201);
  await strict.stop();
});

test('with a trust policy, a trusted certificate without an e-mail cannot claim Jane, nor can a bare key', async () => {
  // A trusted endorser whose certificate (from openssl) names no e-mail, as grid certificates often do.
  const keys = subdir('nomail');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'nomail.key', '-out', 'nomail.pem',
    '-subj', '/C=EU/O=Test/CN=Trusted Without Mail', '-days', '30'], { cwd: keys, stdio: ['ignore', 'pipe', 'pipe'] });
  const noMail = loadPem(join(keys, 'nomail.pem'), join(keys, 'nomail.key'));
  const endorsersFile = join(keys, 'endorsers.txt');
  writeFileSync(endorsersFile, `${noMail.cert.subject}\n${jane.subject}\n${mallory.subject}\n`);
  const trusted = await startServerProcess(dataDirWithConfig(dir, 'trusted', `[marketplace]\ntrust_endorsers = ${endorsersFile}\n`));

  const doc = parseXml(signedXml(mallory, draft()));
  signDocument(doc, { credentials: noMail, email: jane.email });
  const claimed = await postEntry(trusted.url, serializeDocument(doc));
  assertRefused(claimed, 403, 'TRUST_REJECTED', /the certificate carries no e-mail address .* so it cannot vouch for endorser jane\.tester@example\.org/);

  const bare = signAsIs(claim(unsigned(signedXml(mallory, draft())), jane), mallory.credentials, { keyInfo: rsaKeyValue(mallory.credentials.cert.publicKey) });
  assertRefused(await postEntry(trusted.url, bare), 400, 'SIGNATURE_INVALID', /signature has no X\.509 certificate/);
  assert.deepEqual(await entriesOf(jane.email, trusted.url), []);
  assert.equal((await postEntry(trusted.url, signedXml(jane, draft()))).status, 201, 'Jane herself is still trusted');
  await trusted.stop();
});

test('entries stored before these checks no longer show a valid signature', async () => {
  // Stored past a verifier that checks nothing, as an older server accepted them.
  const { app, marketplace } = await buildTestApp({ verifier: uncheckedVerifier() });
  const bare = signAsIs(claim(unsigned(signedXml(mallory, draft())), jane), mallory.credentials, { keyInfo: rsaKeyValue(mallory.credentials.cert.publicKey) });
  const own = { email: mallory.email, subject: mallory.subject, issuer: mallory.credentials.cert.issuer };
  const decoy = signAsIs(withDecoy(claim(unsigned(signedXml(mallory, draft())), jane), own), mallory.credentials);
  const extra = insideSignature(signedXml(mallory, draft()), '<Object>unsigned</Object>');
  const cases: Array<[string, RegExp]> = [[bare, /signature has no X\.509 certificate/], [decoy, /endorser inconsistency/], [extra, /ds:Signature may hold only/]];
  for (const [xml, reason] of cases) {
    const { path } = await marketplace.publish(xml);
    const res = await app.inject({ method: 'GET', url: `/metadata/${path}?media=json` });
    assert.equal(res.statusCode, 200);
    const signature = (res.json() as { signature: { valid: boolean; reason?: string } }).signature;
    assert.equal(signature.valid, false, path);
    assert.match(signature.reason ?? '', reason);
  }
});
