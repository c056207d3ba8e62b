import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import type { TestSigner } from '../helpers/signing.js';
import { loadPem } from '../../src/metadata/cert/credentials.js';
import { readCertificate } from '../../src/metadata/cert/certificate.js';

const dir = tempDir();
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

// A real CA and a leaf it issued, made by openssl: the independent source of the chain.
openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', '/C=EU/O=Test/CN=Test CA', '-days', '30');
openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/C=EU/O=Test/CN=Leaf Signer');
writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=email:leaf@example.org\n');
openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '30', '-extfile', 'leaf.ext');
const leafCreds = loadPem(join(dir, 'leaf.pem'), join(dir, 'leaf.key'));
const leaf: TestSigner = { p12Path: '', password: '', credentials: leafCreds, email: 'leaf@example.org', subject: leafCreds.cert.subject };
const selfSigned = makeSigner(dir, 'Mallory', 'mallory@example.org');
const ca = readCertificate(readFileSync(join(dir, 'ca.pem')));
const post = (app: Awaited<ReturnType<typeof buildTestApp>>['app'], xml: string) =>
  app.inject({ method: 'POST', url: '/metadata', headers: { 'content-type': 'application/xml', accept: 'text/plain' }, payload: xml });

test('trust policy is off by default: any correctly signed entry is accepted', async () => {
  const { app } = await buildTestApp();
  assert.equal((await post(app, signedXml(selfSigned, draft()))).statusCode, 201);
});

test('an endorser list admits listed subject DNs and names the rule when it refuses', async () => {
  const { app } = await buildTestApp({ trust: { endorsers: [leaf.subject] } });
  assert.equal((await post(app, signedXml(leaf, draft()))).statusCode, 201);
  const refused = await post(app, signedXml(selfSigned, draft()));
  assert.equal(refused.statusCode, 403);
  assert.match(refused.body, /^invalid metadata: trust policy: endorser "CN=Mallory,OU=Testing Department,O=StratusLab Project,C=EU" is not in the trusted endorser list/);
});

test('a CA bundle admits certificates it issued, refuses others, and checks dates', async () => {
  const now = new Date();
  const { app } = await buildTestApp({ trust: { cas: [ca] }, clock: () => now });
  assert.equal((await post(app, signedXml(leaf, draft()))).statusCode, 201);
  const stranger = await post(app, signedXml(selfSigned, draft()));
  assert.equal(stranger.statusCode, 403);
  assert.match(stranger.body, /trust policy: certificate "CN=Mallory.*" is not issued by a trusted CA/);

  const future = new Date(now.getTime() + 60 * 86_400_000);
  const { app: later } = await buildTestApp({ trust: { cas: [ca] }, clock: () => future });
  const expired = await post(later, signedXml(leaf, draft()));
  assert.equal(expired.statusCode, 403);
  assert.match(expired.body, /trust policy: certificate "CN=Leaf Signer,O=Test,C=EU" expired on /);
});
