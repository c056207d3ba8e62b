import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { forge } from './forge.js';
import type { Forge } from './forge.js';
import { StratusError } from '../../domain/errors.js';
import { readCertificate } from './certificate.js';
import type { CertInfo } from './certificate.js';

/** A private key, its certificate, and the issuers found next to it. */
export interface SigningCredentials {
  key: KeyObject;
  /** The certificate whose public key matches `key`. */
  cert: CertInfo;
  /**
   * Issuer certificates found in the same file, nearest issuer first, without `cert` itself.
   * Only `cert` goes into KeyInfo (reference §5.1); the chain is for whoever wants to verify.
   */
  chain: CertInfo[];
}

/** PKCS#12 bag types (RFC 7292 §4.2). */
const OID_KEY_BAG = '1.2.840.113549.1.12.10.1.1';
const OID_SHROUDED_KEY_BAG = '1.2.840.113549.1.12.10.1.2';
const OID_CERT_BAG = '1.2.840.113549.1.12.10.1.3';

/**
 * Opens a PKCS#12 file the way StratusLab's signer does (reference §5.1): the last private key
 * in the file that has a certificate with the same public key. Reads legacy files (RC2-40 and
 * 3DES, as made by old OpenSSL and Java) as well as OpenSSL 3's default AES/PBES2 ones, and
 * keys of any type node:crypto knows (RSA, DSA, EC).
 */
export function loadP12(file: string, password: string): SigningCredentials {
  const bytes = readInput(file, 'P12_NOT_FOUND', 'PKCS#12 file');
  let asn1: Forge.asn1.Asn1;
  try {
    asn1 = forge().asn1.fromDer(forge().util.createBuffer(bytes.toString('binary')), false);
  } catch (e) {
    throw new StratusError('CERT_INVALID', `${file} is not a PKCS#12 file: ${(e as Error).message}`, { cause: e });
  }
  const pfx = openPfx(asn1, file, password);

  const keys: KeyObject[] = [];
  const certs: CertInfo[] = [];
  for (const safe of pfx.safeContents) {
    for (const bag of safe.safeBags) {
      if (bag.type === OID_KEY_BAG || bag.type === OID_SHROUDED_KEY_BAG) keys.push(keyFromBag(bag, file));
      else if (bag.type === OID_CERT_BAG) certs.push(certFromBag(bag, file));
    }
  }
  if (keys.length === 0) throw new StratusError('P12_NO_KEY', `${file} holds no private key`);
  for (let i = keys.length - 1; i >= 0; i--) {
    const key = keys[i]!;
    const cert = certs.find((c) => samePublicKey(c.publicKey, key));
    if (cert !== undefined) return { key, cert, chain: buildChain(cert, certs) };
  }
  throw new StratusError('P12_NO_KEY', `${file} holds ${keys.length} private key(s) but no certificate matching any of them`);
}

/**
 * Reads a PEM (or DER) certificate file and a PEM (or DER PKCS#8/PKCS#1/SEC1) private key file;
 * both may be the same file. Further certificates in the certificate file become the chain.
 * The key must match the first certificate.
 */
export function loadPem(certFile: string, keyFile: string, keyPassword?: string): SigningCredentials {
  const certBytes = readInput(certFile, 'FILE_NOT_FOUND', 'certificate file');
  const keyBytes = keyFile === certFile ? certBytes : readInput(keyFile, 'FILE_NOT_FOUND', 'key file');
  const certs = certsFromFile(certBytes, certFile);
  const cert = certs[0]!;
  const key = privateKeyFromFile(keyBytes, keyFile, keyPassword);
  if (!samePublicKey(cert.publicKey, key)) {
    throw new StratusError('CERT_INVALID', `the private key in ${keyFile} does not match the certificate in ${certFile}`);
  }
  return { key, cert, chain: buildChain(cert, certs.slice(1)) };
}

/**
 * The endorser e-mail for slreq:email: the certificate's SubjectAltName e-mail, else
 * `fallback` (the --email option), else ENDORSER_EMAIL_MISSING. Throws EMAIL_INVALID when
 * the chosen address is not valid.
 */
export function endorserEmail(cert: CertInfo, fallback?: string): string {
  const email = cert.email ?? (fallback === '' ? undefined : fallback);
  if (email === undefined) {
    throw new StratusError('ENDORSER_EMAIL_MISSING', 'cannot generate slreq:endorsement; email address not in cert or not provided');
  }
  if (!isValidEmail(email)) throw new StratusError('EMAIL_INVALID', `invalid email address: ${email}`);
  return email;
}

/**
 * Exactly one '@', something on both sides, and no white space or control characters.
 * Deliberately loose: StratusLab accepts addresses as short as `A@A` and `+@A` (reference §10.1).
 */
export function isValidEmail(email: string): boolean {
  const parts = email.split('@');
  return parts.length === 2 && parts[0] !== '' && parts[1] !== '' && !/\s/.test(email) && ![...email].some(isControl);
}

/** C0, DEL and C1 control characters. */
function isControl(c: string): boolean {
  const code = c.codePointAt(0)!;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

type ErrorCodeForMissing = 'P12_NOT_FOUND' | 'FILE_NOT_FOUND';

function readInput(file: string, missing: ErrorCodeForMissing, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new StratusError(missing, `${what} not found: ${file}`, { cause: e });
    throw new StratusError('CERT_INVALID', `cannot read ${what} ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** Forge verifies the MAC first, so a wrong password shows up as one of these messages. */
const WRONG_PASSWORD = /MAC could not be verified|Invalid password|wrong password|Failed to decrypt/i;

function openPfx(asn1: Forge.asn1.Asn1, file: string, password: string): Forge.pkcs12.Pkcs12Pfx {
  try {
    return forge().pkcs12.pkcs12FromAsn1(asn1, false, password);
  } catch (e) {
    const message = (e as Error).message;
    if (WRONG_PASSWORD.test(message)) {
      // An empty password is encoded two ways (no bytes, or a lone BMP terminator); OpenSSL
      // writes the second, some Java and Windows tools the first.
      if (password === '') {
        try {
          return forge().pkcs12.pkcs12FromAsn1(asn1, false, null as unknown as string);
        } catch {
          // fall through to the error below
        }
      }
      throw new StratusError('P12_BAD_PASSWORD', `cannot open ${file}: wrong password`, { cause: e });
    }
    throw new StratusError('CERT_INVALID', `cannot read PKCS#12 file ${file}: ${message}`, { cause: e });
  }
}

/** Bag fields forge sets but does not declare: `asn1` holds what it could not turn into an RSA key or certificate. */
interface ForgeBag {
  key?: Forge.pki.PrivateKey | null;
  cert?: Forge.pki.Certificate | null;
  asn1?: Forge.asn1.Asn1;
}

function keyFromBag(bag: Forge.pkcs12.Bag, file: string): KeyObject {
  const b = bag as unknown as ForgeBag;
  // Forge only models RSA keys; for DSA/EC it hands back the PrivateKeyInfo, which node:crypto reads.
  const info = b.key ? forge().pki.wrapRsaPrivateKey(forge().pki.privateKeyToAsn1(b.key)) : b.asn1;
  if (info === undefined) throw new StratusError('CERT_INVALID', `${file}: empty key bag`);
  try {
    return createPrivateKey({ key: toBuffer(info), format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new StratusError('CERT_INVALID', `${file}: unreadable private key: ${(e as Error).message}`, { cause: e });
  }
}

function certFromBag(bag: Forge.pkcs12.Bag, file: string): CertInfo {
  const b = bag as unknown as ForgeBag;
  // forge does not hand back the bag's bytes, so re-encode its parse. That is byte-exact for DER
  // certificates (it keeps the parsed TBSCertificate); only non-DER input (BER lengths, padded
  // INTEGERs) would be normalised, which would break that certificate's own signature.
  const asn1 = b.cert ? forge().pki.certificateToAsn1(b.cert) : b.asn1;
  if (asn1 === undefined) throw new StratusError('CERT_INVALID', `${file}: empty certificate bag`);
  try {
    return readCertificate(toBuffer(asn1));
  } catch (e) {
    if (e instanceof StratusError) throw new StratusError(e.code, `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

function toBuffer(asn1: Forge.asn1.Asn1): Buffer {
  return Buffer.from(forge().asn1.toDer(asn1).getBytes(), 'binary');
}

function certsFromFile(bytes: Buffer, file: string): CertInfo[] {
  const text = bytes.toString('latin1');
  const blocks = text.match(/-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----[\s\S]*?-----END (?:X509 |TRUSTED )?CERTIFICATE-----/g);
  try {
    if (blocks === null) {
      if (text.includes('-----BEGIN')) throw new StratusError('CERT_INVALID', 'no CERTIFICATE block found');
      return [readCertificate(bytes)];
    }
    return blocks.map((block) => readCertificate(block));
  } catch (e) {
    if (e instanceof StratusError) throw new StratusError(e.code, `${file}: ${e.message}`, { cause: e });
    throw e;
  }
}

function privateKeyFromFile(bytes: Buffer, file: string, passphrase: string | undefined): KeyObject {
  const text = bytes.toString('latin1');
  // Pick the key block ourselves so that a combined cert+key PEM file works as the key file too.
  const block = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----[\s\S]*?-----END \1-----/.exec(text);
  const attempts: Array<Parameters<typeof createPrivateKey>[0]> = block
    ? [{ key: block[0], format: 'pem', ...(passphrase === undefined ? {} : { passphrase }) }]
    : text.includes('-----BEGIN')
      ? []
      : (['pkcs8', 'pkcs1', 'sec1'] as const).map((type) => ({ key: bytes, format: 'der' as const, type, ...(passphrase === undefined ? {} : { passphrase }) }));
  let last: unknown = new Error('no PRIVATE KEY block found');
  for (const attempt of attempts) {
    try {
      return createPrivateKey(attempt);
    } catch (e) {
      last = e;
    }
  }
  const reason = (last as Error).message;
  const hint = passphrase === undefined && /passphrase|encrypted/i.test(reason) ? 'the key is encrypted; give its password' : reason;
  throw new StratusError('CERT_INVALID', `cannot read private key ${file}: ${hint}`, { cause: last });
}

function samePublicKey(certKey: KeyObject, privateKey: KeyObject): boolean {
  const spki = (k: KeyObject) => k.export({ type: 'spki', format: 'der' });
  return spki(certKey).equals(spki(createPublicKey(privateKey)));
}

/** Follows issuer → subject links from `leaf` through `pool`, stopping at a self-issued certificate. */
function buildChain(leaf: CertInfo, pool: CertInfo[]): CertInfo[] {
  const chain: CertInfo[] = [];
  const used = new Set<CertInfo>([leaf]);
  let current = leaf;
  while (current.issuer !== current.subject) {
    const next = pool.find((c) => !used.has(c) && c.subject === current.issuer);
    if (next === undefined) break;
    chain.push(next);
    used.add(next);
    current = next;
  }
  return chain;
}
