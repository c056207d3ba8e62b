import { X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { StratusError } from '../../domain/errors.js';
import { DerError, Tag, children, decodeOid, decodeTime, expectTag, parseDer, readTlv } from './der.js';
import type { Tlv } from './der.js';
import { rfc2253 } from './dn.js';

/** What signing and endorser checks need from an X.509 certificate. */
export interface CertInfo {
  /** The certificate exactly as encoded (this is what goes into ds:X509Certificate). */
  der: Buffer;
  /** PEM of `der`, 64-column base64. */
  pem: string;
  /** Subject as Java's X500Principal.getName() prints it (see dn.ts). */
  subject: string;
  /** Issuer, same format as `subject`. */
  issuer: string;
  /** The first rfc822Name of the SubjectAltName extension; a DN emailAddress does not count. */
  email?: string;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  x509: X509Certificate;
}

const OID_SUBJECT_ALT_NAME = '2.5.29.17';
/** GeneralName rfc822Name is [1] IMPLICIT IA5String: context-specific, primitive, number 1. */
const TAG_RFC822_NAME = 0x81;
const TAG_EXTENSIONS = 0xa3;
const TAG_VERSION = 0xa0;

/**
 * Reads one certificate given as PEM text (string or bytes; the first CERTIFICATE block is
 * used) or as DER bytes. Throws CERT_INVALID when it is neither. Validity dates are not
 * checked: StratusLab accepts expired signers (reference §5.4).
 */
export function readCertificate(input: Buffer | string): CertInfo {
  const der = typeof input === 'string' || looksLikePem(input) ? derFromPem(input.toString()) : input;
  return certInfoFromDer(der);
}

/**
 * Reads a certificate from base64 as found in ds:X509Certificate, where the JDK wraps lines
 * every 76 characters; any whitespace is ignored.
 */
export function certificateFromBase64(b64: string): CertInfo {
  const compact = b64.replace(/\s+/g, '');
  if (compact.length === 0 || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new StratusError('CERT_INVALID', 'invalid certificate: X509Certificate is not valid base64');
  }
  const cached = recent.get(compact);
  if (cached) return cached;
  const info = certInfoFromDer(Buffer.from(compact, 'base64'));
  // One endorser signs many entries; parsing the same certificate again is most of the cost
  // of verifying an upload.
  if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value as string);
  recent.set(compact, info);
  return info;
}

const RECENT_MAX = 256;
const recent = new Map<string, CertInfo>();

function looksLikePem(buf: Buffer): boolean {
  return buf.subarray(0, 4096).toString('latin1').includes('-----BEGIN');
}

function derFromPem(text: string): Buffer {
  const m = /-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----([\s\S]*?)-----END (?:X509 |TRUSTED )?CERTIFICATE-----/.exec(text);
  if (m === null) throw new StratusError('CERT_INVALID', 'invalid certificate: no -----BEGIN CERTIFICATE----- block found');
  const body = m[1]!.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw new StratusError('CERT_INVALID', 'invalid certificate: the PEM block is not valid base64');
  return Buffer.from(body, 'base64');
}

function certInfoFromDer(der: Buffer): CertInfo {
  let fields: TbsFields;
  try {
    fields = tbsFields(der);
  } catch (e) {
    if (e instanceof DerError) throw new StratusError('CERT_INVALID', `invalid certificate: ${e.message}`, { cause: e });
    throw e;
  }
  const exact = Buffer.from(fields.raw);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(exact);
  } catch (e) {
    throw new StratusError('CERT_INVALID', `invalid certificate: ${(e as Error).message}`, { cause: e });
  }
  const info: CertInfo = {
    der: exact,
    pem: toPem(exact),
    subject: rfc2253(fields.subject.raw),
    issuer: rfc2253(fields.issuer.raw),
    notBefore: fields.notBefore,
    notAfter: fields.notAfter,
    publicKey: x509.publicKey,
    x509,
  };
  if (fields.email !== undefined) info.email = fields.email;
  return info;
}

interface TbsFields {
  raw: Buffer;
  issuer: Tlv;
  subject: Tlv;
  notBefore: Date;
  notAfter: Date;
  email?: string;
}

/** Walks Certificate → TBSCertificate (RFC 5280 §4.1) for the fields node:crypto does not give raw. */
function tbsFields(der: Buffer): TbsFields {
  // A certificate followed by junk (e.g. a trailing newline in a .der file) is still the certificate.
  const cert = expectTag(readTlv(der, 0), Tag.SEQUENCE, 'Certificate');
  const tbs = expectTag(children(cert)[0], Tag.SEQUENCE, 'TBSCertificate');
  const items = children(tbs);
  let i = items[0]?.tag === TAG_VERSION ? 1 : 0;
  expectTag(items[i++], Tag.INTEGER, 'serialNumber');
  expectTag(items[i++], Tag.SEQUENCE, 'signature');
  const issuer = expectTag(items[i++], Tag.SEQUENCE, 'issuer');
  const validity = children(expectTag(items[i++], Tag.SEQUENCE, 'validity'));
  if (validity.length !== 2) throw new DerError(`validity has ${validity.length} elements, expected 2`);
  const subject = expectTag(items[i++], Tag.SEQUENCE, 'subject');
  expectTag(items[i++], Tag.SEQUENCE, 'subjectPublicKeyInfo');
  const extensions = items.slice(i).find((t) => t.tag === TAG_EXTENSIONS);
  const out: TbsFields = {
    raw: cert.raw,
    issuer,
    subject,
    notBefore: decodeTime(validity[0]!),
    notAfter: decodeTime(validity[1]!),
  };
  const email = extensions === undefined ? undefined : firstSanEmail(extensions);
  if (email !== undefined) out.email = email;
  return out;
}

function firstSanEmail(extensionsTag: Tlv): string | undefined {
  const list = expectTag(children(extensionsTag)[0], Tag.SEQUENCE, 'Extensions');
  for (const ext of children(list)) {
    const parts = children(expectTag(ext, Tag.SEQUENCE, 'Extension'));
    if (decodeOid(expectTag(parts[0], Tag.OID, 'extnID').content) !== OID_SUBJECT_ALT_NAME) continue;
    const value = expectTag(parts[parts.length - 1], Tag.OCTET_STRING, 'extnValue');
    const names = expectTag(parseDer(value.content), Tag.SEQUENCE, 'GeneralNames');
    const rfc822 = children(names).find((n) => n.tag === TAG_RFC822_NAME);
    return rfc822 === undefined ? undefined : ia5(rfc822.content);
  }
  return undefined;
}

/** Like Java's US-ASCII decoder: bytes above 0x7f become U+FFFD (and then fail e-mail checks). */
function ia5(bytes: Buffer): string {
  let s = '';
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : '\ufffd';
  return s;
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
