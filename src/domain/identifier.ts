import { StratusError } from './errors.js';

/**
 * Marketplace identifiers (reference §4.2): the SHA-1 of the uncompressed image read as a
 * 160-bit unsigned integer, written in base 64 (base64url alphabet, most significant digit
 * first) with exactly 27 digits, left-padded with zeros ('A'). It is NOT base64url(sha1).
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DIGITS = 27;
const IDENTIFIER_RE = /^[A-Za-z0-9_-]{27}$/;
const MAX_SHA1 = (1n << 160n) - 1n;

/** True when `s` has the shape of an identifier. */
export function isIdentifier(s: string): boolean {
  return IDENTIFIER_RE.test(s);
}

/** Identifier of a SHA-1 digest given as hex (any case, leading zeros optional) or raw bytes. */
export function identifierFromSha1(sha1: string | Uint8Array): string {
  let value: bigint;
  if (typeof sha1 === 'string') {
    if (!/^[0-9a-fA-F]{1,40}$/.test(sha1)) {
      throw new StratusError('SHA1_INVALID', `invalid SHA-1 checksum: '${sha1}'`);
    }
    value = BigInt('0x' + sha1);
  } else {
    if (sha1.length !== 20) throw new StratusError('SHA1_INVALID', `invalid SHA-1 checksum: ${sha1.length} bytes, expected 20`);
    value = BigInt('0x' + Buffer.from(sha1).toString('hex'));
  }
  if (value > MAX_SHA1) throw new StratusError('SHA1_INVALID', 'invalid SHA-1 checksum: more than 160 bits');
  let out = '';
  for (let i = 0; i < DIGITS; i++) {
    out = ALPHABET[Number(value & 63n)] + out;
    value >>= 6n;
  }
  return out;
}

/** The SHA-1 value (as a number) an identifier stands for. */
export function sha1ValueFromIdentifier(identifier: string): bigint {
  if (!isIdentifier(identifier)) {
    throw new StratusError('IDENTIFIER_INVALID', `invalid identifier: '${identifier}'`);
  }
  let value = 0n;
  for (const ch of identifier) value = (value << 6n) | BigInt(ALPHABET.indexOf(ch));
  if (value > MAX_SHA1) throw new StratusError('IDENTIFIER_INVALID', `invalid identifier: '${identifier}' is more than 160 bits`);
  return value;
}

/** SHA-1 hex (40 lower-case digits) an identifier stands for. */
export function sha1HexFromIdentifier(identifier: string): string {
  return sha1ValueFromIdentifier(identifier).toString(16).padStart(40, '0');
}
