import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { certificateFromBase64, readCertificate } from './certificate.js';
import { isStratusError } from '../../domain/errors.js';

const FIXTURES = '/work/shared/fixtures/stratuslab-metadata';
const JANE = 'CN=Jane Tester,OU=Testing Department,O=StratusLab Project,C=EU';

function embeddedCertificate(): string {
  const xml = readFileSync(join(FIXTURES, 'valid-full-signature.xml'), 'utf8');
  const m = /<X509Certificate>([^<]*)<\/X509Certificate>/.exec(xml);
  assert.ok(m, 'fixture has an X509Certificate');
  return m[1]!;
}

test('the ds:X509Certificate of valid-full-signature.xml: Jane Tester, SAN e-mail, 2011-2012', () => {
  const b64 = embeddedCertificate();
  assert.match(b64, /\n/, 'the fixture wraps base64 lines, which must be ignored');
  const cert = certificateFromBase64(b64);
  assert.equal(cert.subject, JANE);
  assert.equal(cert.issuer, JANE);
  assert.equal(cert.email, 'jane.tester@example.org');
  assert.equal(cert.notBefore.toISOString(), '2011-02-13T23:20:10.000Z');
  assert.equal(cert.notAfter.toISOString(), '2012-02-13T23:20:10.000Z');
  assert.equal(createHash('sha256').update(cert.der).digest('hex').toUpperCase(),
    '7E53AEE672A4DB31CD15B810DE35FE105BA7C6A1052E4690A6DB0E20AE5B01BE');
  assert.equal(cert.publicKey.asymmetricKeyType, 'rsa');
  assert.equal(cert.x509.serialNumber, '8411212385B024A1');
});

test('readCertificate takes PEM text, PEM bytes and DER bytes alike', () => {
  const fromB64 = certificateFromBase64(embeddedCertificate());
  for (const input of [fromB64.pem, Buffer.from(fromB64.pem), fromB64.der, `junk before\n${fromB64.pem}trailing`]) {
    const cert = readCertificate(input);
    assert.deepEqual(cert.der, fromB64.der);
    assert.equal(cert.subject, JANE);
  }
  assert.match(fromB64.pem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)+[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/);
  assert.deepEqual(new X509Certificate(fromB64.pem).raw, fromB64.der);
});

test('garbage is CERT_INVALID, not a crash', () => {
  const bad: Array<[string, () => unknown]> = [
    ['not base64', () => certificateFromBase64('@@@@')],
    ['empty base64', () => certificateFromBase64(' \n ')],
    ['base64 of junk', () => certificateFromBase64('AAAA')],
    ['PEM without a certificate', () => readCertificate('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')],
    ['DER of a non-certificate', () => readCertificate(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]))],
    ['truncated certificate', () => readCertificate(certificateFromBase64(embeddedCertificate()).der.subarray(0, 200))],
  ];
  for (const [why, fn] of bad) assert.throws(fn, (e) => isStratusError(e, 'CERT_INVALID'), why);
});

test('email is the FIRST rfc822Name SubjectAltName, never the DN emailAddress', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-cert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const make = (file: string, ...extra: string[]) => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'k.pem'), '-out', join(dir, file), '-days', '1', ...extra], { stdio: 'pipe' });
    return readCertificate(readFileSync(join(dir, file)));
  };
  const dnOnly = make('dn.pem', '-subj', '/CN=Dn Only/emailAddress=dn@example.org');
  assert.equal(dnOnly.email, undefined);
  assert.equal(dnOnly.subject, '1.2.840.113549.1.9.1=#160e646e406578616d706c652e6f7267,CN=Dn Only');

  const both = make('both.pem', '-subj', '/CN=Both/emailAddress=dn@example.org',
    '-addext', 'subjectAltName=DNS:host.example.org,email:first@example.org,email:second@example.org');
  assert.equal(both.email, 'first@example.org');
  assert.equal(both.publicKey.asymmetricKeyType, 'ec');
});
