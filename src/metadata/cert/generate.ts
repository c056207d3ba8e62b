import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { forge } from './forge.js';
import { StratusError } from '../../domain/errors.js';
import { Tag, children, encodeOid, encodeSequence, encodeSet, encodeTime, encodeTlv, encodeUnsignedInteger, expectTag, parseDer } from './der.js';
import { isValidEmail } from './credentials.js';

/** Options of {@link generateSelfSignedP12}, as taken by stratus-generate-p12. */
export interface GenerateP12Options {
  /** CN of the subject (and issuer: the certificate is self-signed). */
  commonName: string;
  /** Put in subjectAltName as rfc822Name; it becomes the endorser e-mail when signing. */
  email: string;
  /** Protects both the key and the file's integrity MAC. */
  password: string;
  /** Lifetime from now, in whole days. */
  validityDays: number;
}

const OID = {
  country: '2.5.4.6',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  commonName: '2.5.4.3',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

const DAY_MS = 86_400_000;

/**
 * A self-signed test certificate and key in a password-protected PKCS#12, like StratusLab's
 * stratus-generate-p12: subject `C=EU, O=StratusLab Project, OU=Testing Department, CN=<cn>`,
 * RSA 2048, SHA-256, subjectAltName email, CA:false, key usage for signing.
 *
 * The key is encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC and the MAC is HMAC-SHA1: OpenSSL 3
 * reads that without -legacy, and so does every Java version (old JDKs cannot read PBES2/AES).
 */
export function generateSelfSignedP12(opts: GenerateP12Options): Buffer {
  const { commonName, email, password, validityDays } = opts;
  if (commonName.trim() === '') throw new StratusError('USAGE', 'the common name must not be empty');
  if (password === '') throw new StratusError('USAGE', 'the PKCS#12 password must not be empty');
  if (!Number.isInteger(validityDays) || validityDays < 1 || validityDays > 36_500) {
    throw new StratusError('USAGE', `validity must be a whole number of days from 1 to 36500, not ${validityDays}`);
  }
  // rfc822Name is an IA5String, so the address must be ASCII.
  if (!isValidEmail(email) || !/^[\x21-\x7e]+$/.test(email)) throw new StratusError('EMAIL_INVALID', `invalid email address: ${email}`);

  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const certDer = selfSignedCertificate(privateKey, publicKey, commonName, email, validityDays);

  // forge only for the PKCS#12 container; it needs its own key and certificate objects.
  const forgeKey = forge().pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const forgeCert = forge().pki.certificateFromAsn1(forge().asn1.fromDer(certDer.toString('binary')));
  const pfx = forge().pkcs12.toPkcs12Asn1(forgeKey, forgeCert, password, {
    algorithm: '3des',
    count: 2048,
    // The alias keytool and browsers show.
    friendlyName: commonName,
  });
  return Buffer.from(forge().asn1.toDer(pfx).getBytes(), 'binary');
}

function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject, cn: string, email: string, days: number): Buffer {
  const name = encodeSequence(
    rdn(OID.country, Tag.PRINTABLE_STRING, 'EU'),
    rdn(OID.organization, Tag.UTF8_STRING, 'StratusLab Project'),
    rdn(OID.organizationalUnit, Tag.UTF8_STRING, 'Testing Department'),
    rdn(OID.commonName, Tag.UTF8_STRING, cn),
  );
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const keyId = createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
  // Whole seconds: certificates cannot carry milliseconds in UTCTime.
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + days * DAY_MS);
  const algorithm = encodeSequence(encodeOid(OID.sha256WithRSA), encodeTlv(Tag.NULL));

  const tbs = encodeSequence(
    encodeTlv(0xa0, encodeUnsignedInteger(Buffer.from([2]))), // v3
    encodeUnsignedInteger(serialNumber()),
    algorithm,
    name,
    encodeSequence(encodeTime(notBefore), encodeTime(notAfter)),
    name,
    spki,
    encodeTlv(0xa3, encodeSequence(
      extension(OID.basicConstraints, false, encodeSequence()), // cA DEFAULT FALSE: empty SEQUENCE
      // digitalSignature(0), nonRepudiation(1), keyEncipherment(2): 0b111 then 5 unused bits.
      extension(OID.keyUsage, true, encodeTlv(Tag.BIT_STRING, Buffer.from([0x05, 0xe0]))),
      extension(OID.subjectKeyIdentifier, false, encodeTlv(Tag.OCTET_STRING, keyId)),
      extension(OID.authorityKeyIdentifier, false, encodeSequence(encodeTlv(0x80, keyId))),
      extension(OID.subjectAltName, false, encodeSequence(encodeTlv(0x81, Buffer.from(email, 'latin1')))),
    )),
  );
  const signature = sign('sha256', tbs, privateKey);
  return encodeSequence(tbs, algorithm, encodeTlv(Tag.BIT_STRING, Buffer.from([0]), signature));
}

function rdn(oid: string, tag: number, value: string): Buffer {
  return encodeSet(encodeSequence(encodeOid(oid), encodeTlv(tag, Buffer.from(value, 'utf8'))));
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  const flag = critical ? [encodeTlv(Tag.BOOLEAN, Buffer.from([0xff]))] : [];
  return encodeSequence(encodeOid(oid), ...flag, encodeTlv(Tag.OCTET_STRING, value));
}

/** RFC 5280 §5.2.1 wants at most 20 octets, positive and non-zero: 16 random bytes, top bit clear. */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes;
}

/** The subjectPublicKey BIT STRING contents without the unused-bits octet: the usual key id input. */
function subjectPublicKeyBits(spki: Buffer): Buffer {
  const bits = expectTag(children(parseDer(spki))[1], Tag.BIT_STRING, 'subjectPublicKey');
  return bits.content.subarray(1);
}
