import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { endorserEmail, isValidEmail, loadP12, loadPem } from './credentials.js';
import type { SigningCredentials } from './credentials.js';
import { certificateFromBase64 } from './certificate.js';
import { generateSelfSignedP12 } from './generate.js';
import { isStratusError } from '../../domain/errors.js';

const TEST_P12 = '/work/shared/fixtures/stratuslab-metadata/test.p12';
const JANE = 'CN=Jane Tester,OU=Testing Department,O=StratusLab Project,C=EU';

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-cred-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { stdio: 'pipe', encoding: 'utf8' });
}

/** The key really belongs to the certificate: a signature made with it verifies with the cert. */
function assertKeyMatches(c: SigningCredentials): void {
  const data = Buffer.from('stratus');
  assert.ok(verify('sha256', data, c.cert.publicKey, sign('sha256', data, c.key)));
}

test('fixture test.p12 (RC2-40 + 3DES, needs -legacy in OpenSSL 3) opens with XYZXYZ', () => {
  const c = loadP12(TEST_P12, 'XYZXYZ');
  assert.equal(c.cert.subject, JANE);
  assert.equal(c.cert.issuer, JANE);
  assert.equal(c.cert.email, 'jane.tester@example.org');
  assert.equal(c.cert.notBefore.toISOString(), '2011-02-12T10:29:11.000Z');
  assert.equal(c.key.asymmetricKeyType, 'rsa');
  assert.deepEqual(c.chain, []);
  // Same bytes as `openssl pkcs12 -legacy -nokeys` prints: forge's re-encoding is exact.
  assert.equal(createHash('sha256').update(c.cert.der).digest('hex').toUpperCase(),
    '2CF83099E0A46DBEAEAFE336AE40B0A24C95393A270583131D3184122037BF9C');
  assertKeyMatches(c);
});

test('a wrong password is P12_BAD_PASSWORD and names the file', () => {
  assert.throws(() => loadP12(TEST_P12, 'wrong'), (e) => isStratusError(e, 'P12_BAD_PASSWORD') && e.message.includes(TEST_P12));
  assert.throws(() => loadP12(TEST_P12, ''), (e) => isStratusError(e, 'P12_BAD_PASSWORD'));
});

test('a missing file is P12_NOT_FOUND and names the file', () => {
  const missing = '/nonexistent/dir/cert.p12';
  assert.throws(() => loadP12(missing, 'x'), (e) => isStratusError(e, 'P12_NOT_FOUND') && e.message.includes(missing));
});

test('a file that is not PKCS#12 is CERT_INVALID', (t) => {
  const file = join(tempDir(t), 'not.p12');
  writeFileSync(file, '<?xml version="1.0"?><rdf:RDF/>');
  assert.throws(() => loadP12(file, 'x'), (e) => isStratusError(e, 'CERT_INVALID') && e.message.includes(file));
});

test('OpenSSL 3 default P12 (PBES2, AES-256, HMAC-SHA256 MAC) opens', (t) => {
  const dir = tempDir(t);
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '3',
    '-subj', '/C=EU/O=StratusLab Project/CN=Aes Tester', '-addext', 'subjectAltName=email:aes@example.org');
  const p12 = join(dir, 'aes.p12');
  openssl('pkcs12', '-export', '-inkey', join(dir, 'k.pem'), '-in', join(dir, 'c.pem'), '-passout', 'pass:s3cret', '-out', p12);
  // -info reports on stderr; make sure this really is the modern format being tested.
  const info = spawnSync('openssl', ['pkcs12', '-in', p12, '-passin', 'pass:s3cret', '-info', '-noout'], { encoding: 'utf8' }).stderr;
  assert.match(info, /AES-256-CBC/);
  const c = loadP12(p12, 's3cret');
  assert.equal(c.cert.subject, 'CN=Aes Tester,O=StratusLab Project,C=EU');
  assert.equal(c.cert.email, 'aes@example.org');
  assertKeyMatches(c);
  assert.throws(() => loadP12(p12, 'nope'), (e) => isStratusError(e, 'P12_BAD_PASSWORD'));
});

test('non-RSA keys (EC) load too: forge cannot model them, node:crypto can', (t) => {
  const dir = tempDir(t);
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'),
    '-out', join(dir, 'c.pem'), '-days', '3', '-subj', '/CN=Ec Tester');
  const p12 = join(dir, 'ec.p12');
  openssl('pkcs12', '-export', '-inkey', join(dir, 'k.pem'), '-in', join(dir, 'c.pem'), '-passout', 'pass:pw', '-out', p12);
  const c = loadP12(p12, 'pw');
  assert.equal(c.key.asymmetricKeyType, 'ec');
  assert.equal(c.cert.subject, 'CN=Ec Tester');
  assertKeyMatches(c);
});

test('an empty password opens OpenSSL P12s made with -passout pass:', (t) => {
  const dir = tempDir(t);
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '3', '-subj', '/CN=Empty');
  const p12 = join(dir, 'e.p12');
  openssl('pkcs12', '-export', '-inkey', join(dir, 'k.pem'), '-in', join(dir, 'c.pem'), '-passout', 'pass:', '-out', p12);
  assert.equal(loadP12(p12, '').cert.subject, 'CN=Empty');
});

test('a CA-issued certificate: the signer is the key\'s certificate, the CA goes into chain', (t) => {
  const dir = tempDir(t);
  const f = (n: string) => join(dir, n);
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '3', '-subj', '/CN=Certificate Authority');
  openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('jim.key'), '-out', f('jim.csr'), '-subj', '/O=StratusLab Project/CN=Jim Tester');
  openssl('x509', '-req', '-in', f('jim.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('jim.pem'), '-days', '3');
  openssl('pkcs12', '-export', '-inkey', f('jim.key'), '-in', f('jim.pem'), '-certfile', f('ca.pem'), '-passout', 'pass:pw', '-out', f('jim.p12'));
  const c = loadP12(f('jim.p12'), 'pw');
  assert.equal(c.cert.subject, 'CN=Jim Tester,O=StratusLab Project');
  assert.equal(c.cert.issuer, 'CN=Certificate Authority');
  assert.equal(c.cert.email, undefined);
  assert.deepEqual(c.chain.map((x) => x.subject), ['CN=Certificate Authority']);
  assertKeyMatches(c);

  // The same pair as PEM files, separate and combined in one file.
  const pem = loadPem(f('jim.pem'), f('jim.key'));
  assert.equal(pem.cert.subject, c.cert.subject);
  assertKeyMatches(pem);
  writeFileSync(f('all.pem'), readFileSync(f('jim.pem'), 'utf8') + readFileSync(f('ca.pem'), 'utf8') + readFileSync(f('jim.key'), 'utf8'));
  const combined = loadPem(f('all.pem'), f('all.pem'));
  assert.deepEqual(combined.chain.map((x) => x.subject), ['CN=Certificate Authority']);
  assertKeyMatches(combined);

  // A key that belongs to another certificate is refused.
  assert.throws(() => loadPem(f('jim.pem'), f('ca.key')), (e) => isStratusError(e, 'CERT_INVALID') && e.message.includes(f('ca.key')));
});

test('with several keys the LAST one with a matching certificate wins (as Java aliases are walked)', (t) => {
  const dir = tempDir(t);
  const a = generateSelfSignedP12({ commonName: 'First', email: 'first@example.org', password: 'pw', validityDays: 1 });
  const b = generateSelfSignedP12({ commonName: 'Second', email: 'second@example.org', password: 'pw', validityDays: 1 });
  writeFileSync(join(dir, 'ab.p12'), joinP12('pw', a, b));
  writeFileSync(join(dir, 'ba.p12'), joinP12('pw', b, a));
  assert.equal(loadP12(join(dir, 'ab.p12'), 'pw').cert.email, 'second@example.org');
  assert.equal(loadP12(join(dir, 'ba.p12'), 'pw').cert.email, 'first@example.org');
  assertKeyMatches(loadP12(join(dir, 'ab.p12'), 'pw'));
});

test('a P12 with certificates but no key is P12_NO_KEY', (t) => {
  const dir = tempDir(t);
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '3', '-subj', '/CN=NoKey');
  openssl('pkcs12', '-export', '-nokeys', '-in', join(dir, 'c.pem'), '-passout', 'pass:pw', '-out', join(dir, 'n.p12'));
  assert.throws(() => loadP12(join(dir, 'n.p12'), 'pw'), (e) => isStratusError(e, 'P12_NO_KEY'));
});

test('loadPem: encrypted key needs its password; missing files are FILE_NOT_FOUND', (t) => {
  const dir = tempDir(t);
  const f = (n: string) => join(dir, n);
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-passout', 'pass:keypw', '-keyout', f('k.pem'), '-out', f('c.pem'), '-days', '3', '-subj', '/CN=Enc');
  assert.equal(loadPem(f('c.pem'), f('k.pem'), 'keypw').cert.subject, 'CN=Enc');
  assert.throws(() => loadPem(f('c.pem'), f('k.pem')), (e) => isStratusError(e, 'CERT_INVALID') && e.message.includes(f('k.pem')));
  assert.throws(() => loadPem(f('c.pem'), f('k.pem'), 'bad'), (e) => isStratusError(e, 'CERT_INVALID'));
  assert.throws(() => loadPem(f('none.pem'), f('k.pem')), (e) => isStratusError(e, 'FILE_NOT_FOUND') && e.message.includes(f('none.pem')));
  // DER key and certificate files work as well.
  openssl('pkey', '-in', f('k.pem'), '-passin', 'pass:keypw', '-outform', 'DER', '-out', f('k.der'));
  openssl('x509', '-in', f('c.pem'), '-outform', 'DER', '-out', f('c.der'));
  assertKeyMatches(loadPem(f('c.der'), f('k.der')));
});

test('endorserEmail: SAN e-mail first, then the fallback, then ENDORSER_EMAIL_MISSING', () => {
  const jane = loadP12(TEST_P12, 'XYZXYZ').cert;
  assert.equal(endorserEmail(jane), 'jane.tester@example.org');
  assert.equal(endorserEmail(jane, 'other@example.org'), 'jane.tester@example.org', 'the certificate wins over --email');

  const noSan = { ...jane };
  delete noSan.email;
  assert.equal(endorserEmail(noSan, 'jim.tester@example.org'), 'jim.tester@example.org');
  for (const fallback of [undefined, '']) {
    assert.throws(() => endorserEmail(noSan, fallback), (e) => isStratusError(e, 'ENDORSER_EMAIL_MISSING')
      && e.message === 'cannot generate slreq:endorsement; email address not in cert or not provided');
  }
  assert.throws(() => endorserEmail(noSan, 'jane_at_example.org'), (e) => isStratusError(e, 'EMAIL_INVALID')
    && e.message === 'invalid email address: jane_at_example.org');
  assert.throws(() => endorserEmail({ ...jane, email: 'a@b@c' }), (e) => isStratusError(e, 'EMAIL_INVALID'));
});

test('isValidEmail: StratusLab\'s short addresses pass, malformed ones do not', () => {
  for (const ok of ['A@A', '.@.', '+@A', 'jane.tester@example.org', 'x+tag@sub.example.org']) assert.ok(isValidEmail(ok), ok);
  for (const bad of ['', 'a', '@b', 'a@', 'a@b@c', 'a b@c', 'a@b\n', 'a\u0000@b', 'jane_at_example.org', '\ta@b']) assert.ok(!isValidEmail(bad), JSON.stringify(bad));
});

test('the embedded fixture certificate and test.p12 are different Jane Tester certificates', () => {
  // Worth knowing: a document signed with test.p12 today will not carry the fixture's certificate.
  const xml = readFileSync('/work/shared/fixtures/stratuslab-metadata/valid-full-signature.xml', 'utf8');
  const embedded = certificateFromBase64(/<X509Certificate>([^<]*)</.exec(xml)![1]!);
  const p12 = loadP12(TEST_P12, 'XYZXYZ').cert;
  assert.equal(embedded.subject, p12.subject);
  assert.notDeepEqual(embedded.der, p12.der);
});

/** Concatenates the SafeContents of several P12s (same password) into one file with a new MAC. */
function joinP12(password: string, ...files: Buffer[]): Buffer {
  const { asn1 } = forge;
  const contents = files.flatMap((file) => {
    const pfx = asn1.fromDer(file.toString('binary'));
    const authSafe = ((pfx.value as forge.asn1.Asn1[])[1]!.value as forge.asn1.Asn1[])[1]!.value as forge.asn1.Asn1[];
    return asn1.fromDer(authSafe[0]!.value as string).value as forge.asn1.Asn1[];
  });
  const safeDer = asn1.toDer(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, contents)).getBytes();
  const salt = forge.random.getBytesSync(8);
  const macKey = forge.pkcs12.generateKey(password, forge.util.createBuffer(salt), 3, 2048, 20);
  const hmac = forge.hmac.create();
  hmac.start('sha1', macKey);
  hmac.update(safeDer);
  const seq = (...v: forge.asn1.Asn1[]) => asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, v);
  const prim = (type: number, v: string) => asn1.create(asn1.Class.UNIVERSAL, type, false, v);
  const pfx = seq(
    prim(asn1.Type.INTEGER, asn1.integerToDer(3).getBytes()),
    seq(prim(asn1.Type.OID, asn1.oidToDer(forge.pki.oids.data!).getBytes()),
      asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [prim(asn1.Type.OCTETSTRING, safeDer)])),
    seq(
      seq(seq(prim(asn1.Type.OID, asn1.oidToDer(forge.pki.oids.sha1!).getBytes()), prim(asn1.Type.NULL, '')),
        prim(asn1.Type.OCTETSTRING, hmac.digest().getBytes())),
      prim(asn1.Type.OCTETSTRING, salt),
      prim(asn1.Type.INTEGER, asn1.integerToDer(2048).getBytes()),
    ),
  );
  return Buffer.from(asn1.toDer(pfx).getBytes(), 'binary');
}
