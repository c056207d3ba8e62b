/**
 * A minimal DER codec: just enough to walk an X.509 certificate (issuer, validity, subject,
 * extensions) and to build the few structures stratus-generate-p12 needs. node:crypto parses
 * certificates but hides the raw Name bytes, and the RFC 2253 string must be derived from
 * those bytes to match Java exactly.
 */

/** Identifier bytes of the universal types this code meets. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  VISIBLE_STRING: 0x1a,
  GENERAL_STRING: 0x1b,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One decoded tag-length-value. `content` and `raw` are views into the input buffer. */
export interface Tlv {
  /** The identifier byte as found (class bits, constructed bit and tag number). */
  readonly tag: number;
  /** 0 universal, 1 application, 2 context-specific, 3 private. */
  readonly tagClass: number;
  readonly constructed: boolean;
  readonly tagNumber: number;
  /** The value bytes. */
  readonly content: Buffer;
  /** The whole encoding: identifier, length and value. */
  readonly raw: Buffer;
}

/** Thrown for malformed input; callers turn it into a StratusError that names the source. */
export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

/** Reads the TLV that starts at `offset`. Only definite lengths and low tag numbers (as in DER). */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  if (offset >= buf.length) throw new DerError(`truncated: no tag at offset ${offset}`);
  const tag = buf[offset]!;
  // Tag numbers above 30 never occur in X.509 and Java's DerValue refuses them too.
  if ((tag & 0x1f) === 0x1f) throw new DerError(`unsupported high tag number at offset ${offset}`);
  let pos = offset + 1;
  if (pos >= buf.length) throw new DerError(`truncated: no length at offset ${pos}`);
  const first = buf[pos++]!;
  let length: number;
  if (first < 0x80) {
    length = first;
  } else if (first === 0x80) {
    throw new DerError(`indefinite length at offset ${offset} (BER, not DER)`);
  } else {
    const n = first & 0x7f;
    if (n > 4) throw new DerError(`length of ${n} bytes at offset ${offset} is too large`);
    if (pos + n > buf.length) throw new DerError(`truncated length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
  }
  const end = pos + length;
  if (end > buf.length) throw new DerError(`truncated: value at offset ${offset} needs ${length} bytes, ${buf.length - pos} left`);
  return {
    tag,
    tagClass: tag >> 6,
    constructed: (tag & 0x20) !== 0,
    tagNumber: tag & 0x1f,
    content: buf.subarray(pos, end),
    raw: buf.subarray(offset, end),
  };
}

/** Decodes `buf` as exactly one TLV; trailing bytes are an error. */
export function parseDer(buf: Buffer): Tlv {
  const tlv = readTlv(buf, 0);
  if (tlv.raw.length !== buf.length) throw new DerError(`${buf.length - tlv.raw.length} trailing bytes after the DER value`);
  return tlv;
}

/** The TLVs that make up the content of a constructed value, in order. */
export function children(tlv: Tlv): Tlv[] {
  if (!tlv.constructed) throw new DerError(`tag 0x${hex2(tlv.tag)} is primitive, expected a constructed value`);
  const out: Tlv[] = [];
  let pos = 0;
  while (pos < tlv.content.length) {
    const child = readTlv(tlv.content, pos);
    out.push(child);
    pos += child.raw.length;
  }
  return out;
}

/** Checks the identifier byte; `what` names the field for the error message. */
export function expectTag(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (tlv === undefined) throw new DerError(`${what}: missing`);
  if (tlv.tag !== tag) throw new DerError(`${what}: expected tag 0x${hex2(tag)}, found 0x${hex2(tlv.tag)}`);
  return tlv;
}

/** Dotted-decimal form of an OBJECT IDENTIFIER's content (arcs may exceed 2^53, hence bigint). */
export function decodeOid(content: Buffer): string {
  if (content.length === 0) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: bigint[] = [];
  let value = 0n;
  let fresh = true;
  for (const byte of content) {
    if (fresh && byte === 0x80) throw new DerError('OBJECT IDENTIFIER arc with a leading 0x80 byte');
    value = (value << 7n) | BigInt(byte & 0x7f);
    fresh = false;
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
      fresh = true;
    }
  }
  if (!fresh) throw new DerError('truncated OBJECT IDENTIFIER');
  const first = arcs[0]!;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/** Date of a UTCTime or GeneralizedTime (the Z forms RFC 5280 requires). */
export function decodeTime(tlv: Tlv): Date {
  const s = tlv.content.toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (tlv.tag === Tag.UTC_TIME) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s);
    if (m === null) throw new DerError(`bad UTCTime '${s}'`);
    const yy = Number(m[1]);
    // RFC 5280 §4.1.2.5.1: two-digit years 50-99 are 19xx, 00-49 are 20xx.
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (tlv.tag === Tag.GENERALIZED_TIME) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(?:\.(\d+))?Z$/.exec(s);
    if (m === null) throw new DerError(`bad GeneralizedTime '${s}'`);
    year = Number(m[1]);
  } else {
    throw new DerError(`expected a time, found tag 0x${hex2(tlv.tag)}`);
  }
  const ms = tlv.tag === Tag.GENERALIZED_TIME && m[7] !== undefined ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const d = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), ms));
  // Date.UTC treats years 0-99 as 1900-1999; set it again for GeneralizedTime years below 100.
  d.setUTCFullYear(year);
  return d;
}

// ---- Encoding: only what building a small certificate needs. ----

/** The DER length octets for `n` bytes of content. */
export function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with the given identifier byte; the parts are concatenated as the content. */
export function encodeTlv(tag: number, ...parts: Buffer[]): Buffer {
  const content = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

/** SEQUENCE of the already encoded elements. */
export function encodeSequence(...elements: Buffer[]): Buffer {
  return encodeTlv(Tag.SEQUENCE, ...elements);
}

/** SET of the elements, kept in the given order (callers decide whether to sort). */
export function encodeSet(...elements: Buffer[]): Buffer {
  return encodeTlv(Tag.SET, ...elements);
}

/** OBJECT IDENTIFIER from its dotted form. */
export function encodeOid(oid: string): Buffer {
  const arcs = oid.split('.').map((a) => {
    if (!/^\d+$/.test(a)) throw new DerError(`bad OID '${oid}'`);
    return BigInt(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! >= 40n)) throw new DerError(`bad OID '${oid}'`);
  const values = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  const bytes: number[] = [];
  for (const v of values) {
    const group: number[] = [Number(v & 0x7fn)];
    for (let rest = v >> 7n; rest > 0n; rest >>= 7n) group.unshift(Number(rest & 0x7fn) | 0x80);
    bytes.push(...group);
  }
  return encodeTlv(Tag.OID, Buffer.from(bytes));
}

/** INTEGER from unsigned big-endian magnitude bytes (a 0x00 is prepended when the top bit is set). */
export function encodeUnsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let body = magnitude.subarray(start);
  if (body.length === 0) body = Buffer.from([0]);
  if ((body[0]! & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
  return encodeTlv(Tag.INTEGER, body);
}

/** UTCTime for years 1950-2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). */
export function encodeTime(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return encodeTlv(Tag.UTC_TIME, Buffer.from(digits.slice(2) + 'Z', 'latin1'));
  return encodeTlv(Tag.GENERALIZED_TIME, Buffer.from(digits + 'Z', 'latin1'));
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
