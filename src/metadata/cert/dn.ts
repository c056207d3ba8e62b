import { StratusError } from '../../domain/errors.js';
import { DerError, Tag, children, decodeOid, expectTag, parseDer } from './der.js';
import type { Tlv } from './der.js';

/**
 * X.500 Names as Java's `X500Principal.getName()` (RFC 2253 format) prints them. The old
 * StratusLab tools write these strings into slreq:subject / slreq:issuer and the Marketplace
 * compares them byte for byte with the signing certificate, so "an RFC 2253 string" is not
 * enough: it has to be Java's. The rules below follow OpenJDK's sun.security.x509.X500Name,
 * RDN and AVA (toRFC2253String, non-canonical).
 */

/** The only attributes Java prints with a keyword in RFC 2253 mode (AVAKeyword, rfc2253Compliant). */
const RFC2253_KEYWORDS: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.6', 'C'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.9', 'STREET'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
]);

/**
 * Value types Java renders as text. VisibleString and UniversalString are missing on purpose:
 * Java prints those as #hex even under a keyword.
 */
const STRING_TAGS: ReadonlySet<number> = new Set([
  Tag.PRINTABLE_STRING,
  Tag.T61_STRING,
  Tag.IA5_STRING,
  Tag.GENERAL_STRING,
  Tag.BMP_STRING,
  Tag.UTF8_STRING,
]);

/** Characters Java prefixes with a backslash anywhere in the value ('=' and '#' go beyond RFC 2253). */
const ESCAPEES = ',=+<>#;"\\';

/**
 * The RFC 2253 string Java prints for a DER-encoded X.500 Name (a SEQUENCE OF RDN): the last
 * RDN first, joined by ',' without spaces; the AVAs of a multi-valued RDN in their DER order,
 * joined by '+'. Throws CERT_INVALID when the bytes are not a Name.
 */
export function rfc2253(nameDer: Buffer): string {
  try {
    const name = expectTag(parseDer(nameDer), Tag.SEQUENCE, 'Name');
    return children(name)
      .map((rdn) => rdnString(rdn))
      .reverse()
      .join(',');
  } catch (e) {
    if (e instanceof DerError) throw new StratusError('CERT_INVALID', `invalid X.500 name: ${e.message}`, { cause: e });
    throw e;
  }
}

function rdnString(rdn: Tlv): string {
  expectTag(rdn, Tag.SET, 'RelativeDistinguishedName');
  // No sorting: Java keeps the SET's encoded order (DER encoders have already sorted it).
  return children(rdn).map(avaString).join('+');
}

function avaString(ava: Tlv): string {
  expectTag(ava, Tag.SEQUENCE, 'AttributeTypeAndValue');
  const parts = children(ava);
  if (parts.length !== 2) throw new DerError(`AttributeTypeAndValue has ${parts.length} elements, expected 2`);
  const oid = decodeOid(expectTag(parts[0], Tag.OID, 'attribute type').content);
  const value = parts[1]!;
  const keyword = RFC2253_KEYWORDS.get(oid);
  if (keyword === undefined || !STRING_TAGS.has(value.tag)) {
    // The whole TLV (tag and length too) in lower-case hex, as Character.forDigit gives it.
    return `${keyword ?? oid}=#${value.raw.toString('hex')}`;
  }
  // Java (JDK 8 source, JDK 17 checked) decodes every string type as UTF-8, even BMPString and T61String
  // whose bytes are not UTF-8. That is what the StratusLab tools wrote, so reproduce it rather
  // than decode "correctly". (JDK 25 decodes those two types properly; see dn.test.ts.)
  return `${keyword}=${escapeValue(value.content.toString('utf8'))}`;
}

/** Java's AVA.toRFC2253String escaping: escapees, NUL as \00, then edge spaces and CRs. */
function escapeValue(value: string): string {
  let escaped = '';
  for (const c of value) {
    if (ESCAPEES.includes(c)) escaped += '\\' + c;
    else if (c === '\u0000') escaped += '\\00';
    else escaped += c;
  }
  // Java scans the already-escaped UTF-16 units for leading/trailing ' ' and '\r' and puts a
  // backslash before each of those (so an all-space value has every space escaped).
  const units = escaped.split('');
  const edge = (c: string | undefined) => c === ' ' || c === '\r';
  let lead = 0;
  while (lead < units.length && edge(units[lead])) lead++;
  let trail = units.length - 1;
  while (trail >= 0 && edge(units[trail])) trail--;
  return units.map((c, i) => (i < lead || i > trail ? '\\' + c : c)).join('');
}
