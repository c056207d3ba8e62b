import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { sign, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSelfSignedP12 } from './generate.js';
import { loadP12 } from './credentials.js';
import { readCertificate } from './certificate.js';
import { isStratusError } from '../../domain/errors.js';

const DAY_MS = 86_400_000;

test('a generated P12 round-trips through loadP12 and through OpenSSL 3 without -legacy', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-gen-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'joe.p12');
  const before = Date.now();
  writeFileSync(file, generateSelfSignedP12({ commonName: 'Joe Tester', email: 'joe@example.org', password: 'pa55 word', validityDays: 30 }));

  const c = loadP12(file, 'pa55 word');
  const dn = 'CN=Joe Tester,OU=Testing Department,O=StratusLab Project,C=EU';
  assert.equal(c.cert.subject, dn);
  assert.equal(c.cert.issuer, dn);
  assert.equal(c.cert.email, 'joe@example.org');
  assert.equal(c.key.asymmetricKeyType, 'rsa');
  assert.equal(c.key.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(Math.abs(c.cert.notBefore.getTime() - before) < 5_000);
  assert.equal(c.cert.notAfter.getTime() - c.cert.notBefore.getTime(), 30 * DAY_MS);
  assert.ok(c.cert.x509.verify(c.cert.publicKey), 'self-signed: verifies with its own key');
  assert.equal(c.cert.x509.ca, false);
  const data = Buffer.from('x');
  assert.ok(verify('sha256', data, c.cert.publicKey, sign('sha256', data, c.key)));

  const pem = execFileSync('openssl', ['pkcs12', '-in', file, '-passin', 'pass:pa55 word', '-nokeys'], { encoding: 'utf8', stdio: 'pipe' });
  assert.deepEqual(readCertificate(pem).der, c.cert.der, 'OpenSSL sees the same certificate');
  const keyPem = execFileSync('openssl', ['pkcs12', '-in', file, '-passin', 'pass:pa55 word', '-nocerts', '-nodes'], { encoding: 'utf8', stdio: 'pipe' });
  assert.match(keyPem, /BEGIN PRIVATE KEY/);
  const info = spawnSync('openssl', ['pkcs12', '-in', file, '-passin', 'pass:pa55 word', '-info', '-noout'], { encoding: 'utf8' }).stderr;
  assert.match(info, /pbeWithSHA1And3-KeyTripleDES-CBC/);
  assert.match(info, /MAC: sha1/);

  const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: c.cert.pem, encoding: 'utf8' });
  assert.match(text, /Signature Algorithm: sha256WithRSAEncryption/);
  assert.match(text, /Basic Constraints: *\n *CA:FALSE/);
  assert.match(text, /Key Usage: critical\n *Digital Signature, Non Repudiation, Key Encipherment\n/);
  assert.match(text, /Subject Alternative Name: *\n *email:joe@example\.org/);
  assert.match(text, /Subject: C ?= ?EU, O ?= ?StratusLab Project, OU ?= ?Testing Department, CN ?= ?Joe Tester/);

  assert.throws(() => loadP12(file, 'wrong'), (e) => isStratusError(e, 'P12_BAD_PASSWORD'));
});

test('serial numbers are random and positive; non-ASCII common names survive', () => {
  const opts = { commonName: 'Jürgen Müller', email: 'jm@example.org', password: 'pw', validityDays: 1 };
  const dir = mkdtempSync(join(tmpdir(), 'stratus-gen-'));
  try {
    const serials = [1, 2].map((i) => {
      const file = join(dir, `${i}.p12`);
      writeFileSync(file, generateSelfSignedP12(opts));
      const c = loadP12(file, 'pw');
      assert.equal(c.cert.subject, 'CN=Jürgen Müller,OU=Testing Department,O=StratusLab Project,C=EU');
      return c.cert.x509.serialNumber;
    });
    assert.notEqual(serials[0], serials[1]);
    for (const s of serials) assert.ok(parseInt(s.slice(0, 2), 16) < 0x80, `positive serial ${s}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options are refused before any key is made', () => {
  const ok = { commonName: 'A', email: 'a@example.org', password: 'pw', validityDays: 1 };
  const bad: Array<[string, typeof ok, string]> = [
    ['empty CN', { ...ok, commonName: ' ' }, 'USAGE'],
    ['empty password', { ...ok, password: '' }, 'USAGE'],
    ['zero days', { ...ok, validityDays: 0 }, 'USAGE'],
    ['fractional days', { ...ok, validityDays: 1.5 }, 'USAGE'],
    ['invalid e-mail', { ...ok, email: 'a_at_example.org' }, 'EMAIL_INVALID'],
    ['non-ASCII e-mail (rfc822Name is IA5)', { ...ok, email: 'jü@example.org' }, 'EMAIL_INVALID'],
  ];
  for (const [why, opts, code] of bad) {
    assert.throws(() => generateSelfSignedP12(opts), (e) => isStratusError(e) && e.code === code, why);
  }
});
