import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tag, encodeOid, encodeSequence, encodeSet, encodeTlv } from './der.js';
import { rfc2253 } from './dn.js';
import { readCertificate } from './certificate.js';
import { isStratusError } from '../../domain/errors.js';

// Every expected string below was checked against OpenJDK 17's
// `new X500Principal(der).getName()` on the same bytes; Java is the reference, not RFC 2253.

const CN = '2.5.4.3';
const EMAIL = '1.2.840.113549.1.9.1';

function ava(oid: string, tag: number, value: string | Buffer): Buffer {
  return encodeSequence(encodeOid(oid), encodeTlv(tag, typeof value === 'string' ? Buffer.from(value, 'utf8') : value));
}
function name(...rdns: Buffer[][]): Buffer {
  return encodeSequence(...rdns.map((avas) => encodeSet(...avas)));
}
const cn = (value: string | Buffer, tag: number = Tag.UTF8_STRING) => name([ava(CN, tag, value)]);

const cases: Array<{ why: string; der: Buffer; expected: string }> = [
  {
    why: 'Jane Tester fixture: RDNs come out last-first, comma-joined, no spaces',
    der: name(
      [ava('2.5.4.6', Tag.PRINTABLE_STRING, 'EU')],
      [ava('2.5.4.10', Tag.PRINTABLE_STRING, 'StratusLab Project')],
      [ava('2.5.4.11', Tag.PRINTABLE_STRING, 'Testing Department')],
      [ava(CN, Tag.PRINTABLE_STRING, 'Jane Tester')],
    ),
    expected: 'CN=Jane Tester,OU=Testing Department,O=StratusLab Project,C=EU',
  },
  {
    why: 'emailAddress has no RFC 2253 keyword: dotted OID and #hex of the whole DER value (reference §5.2)',
    der: name([ava('2.5.4.6', Tag.PRINTABLE_STRING, 'EU')], [ava(EMAIL, Tag.IA5_STRING, 'jane@example.org')]),
    expected: '1.2.840.113549.1.9.1=#16106a616e65406578616d706c652e6f7267,C=EU',
  },
  {
    why: 'other attributes Java knows by name (SERIALNUMBER, T) are still OIDs in RFC 2253 mode',
    der: name([ava('2.5.4.5', Tag.PRINTABLE_STRING, '1234')], [ava('2.5.4.12', Tag.PRINTABLE_STRING, 'Dr')]),
    expected: '2.5.4.12=#13024472,2.5.4.5=#130431323334',
  },
  {
    why: 'DC and UID are the two keywords RFC 2253 adds beyond RFC 1779',
    der: name([ava('0.9.2342.19200300.100.1.25', Tag.IA5_STRING, 'org')], [ava('0.9.2342.19200300.100.1.1', Tag.UTF8_STRING, 'jt')]),
    expected: 'UID=jt,DC=org',
  },
  {
    why: 'L, ST and STREET keywords; a multi-valued RDN joins its AVAs with +',
    der: name([ava('2.5.4.7', Tag.UTF8_STRING, 'L'), ava('2.5.4.8', Tag.UTF8_STRING, 'S'), ava('2.5.4.9', Tag.UTF8_STRING, 'street')]),
    expected: 'L=L+ST=S+STREET=street',
  },
  {
    why: 'multi-valued RDN: Java keeps the encoded order (here CN before OU)...',
    der: name([ava(CN, Tag.UTF8_STRING, 'b'), ava('2.5.4.11', Tag.UTF8_STRING, 'a')]),
    expected: 'CN=b+OU=a',
  },
  {
    why: '...and does not sort, even when the SET is not in DER order',
    der: name([ava('2.5.4.11', Tag.UTF8_STRING, 'a'), ava(CN, Tag.UTF8_STRING, 'b')]),
    expected: 'OU=a+CN=b',
  },
  {
    why: 'comma, plus, quote, backslash, <, >, ; and also = and # (beyond RFC 2253) get a backslash',
    der: cn('a,b+c"d\\e<f>g;h=i#j'),
    expected: 'CN=a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i\\#j',
  },
  { why: 'leading #', der: cn('#lead'), expected: 'CN=\\#lead' },
  {
    why: 'every leading and trailing space is escaped, inner ones are not',
    der: cn('  two lead and trail  '),
    expected: 'CN=\\ \\ two lead and trail\\ \\ ',
  },
  { why: 'an all-space value has each space escaped once', der: cn('   '), expected: 'CN=\\ \\ \\ ' },
  { why: 'Java treats CR like a space at the edges', der: cn('\r cr \r'), expected: 'CN=\\\r\\ cr\\ \\\r' },
  { why: 'escaping happens before the edge scan: " \\\\ " keeps its escaped backslash', der: cn(' \\ '), expected: 'CN=\\ \\\\\\ ' },
  { why: 'NUL is written \\00', der: cn('nul\u0000x'), expected: 'CN=nul\\00x' },
  { why: 'tab and newline inside a value pass through unescaped', der: cn('tab\there\nnl'), expected: 'CN=tab\there\nnl' },
  { why: 'a trailing no-break space is not a space to Java', der: cn('x\u00a0'), expected: 'CN=x\u00a0' },
  {
    why: 'non-ASCII UTF8String is printed as Unicode, not \\xx escapes (astral characters too)',
    der: cn('Jürgen Müller 日本 😀'),
    expected: 'CN=Jürgen Müller 日本 😀',
  },
  { why: 'IA5String under a keyword is text', der: cn('ia5@x', Tag.IA5_STRING), expected: 'CN=ia5@x' },
  {
    why: 'Java up to 17 decodes BMPString bytes as UTF-8, so the zero high bytes become \\00 (JDK 25 prints CN=Ja)',
    der: cn(Buffer.from([0x00, 0x4a, 0x00, 0x61]), Tag.BMP_STRING),
    expected: 'CN=\\00J\\00a',
  },
  {
    why: 'T61String is decoded as UTF-8 too: a Latin-1 byte becomes U+FFFD (JDK 25 prints CN=Jür)',
    der: cn(Buffer.from([0x4a, 0xfc, 0x72]), Tag.T61_STRING),
    expected: 'CN=J\ufffdr',
  },
  {
    why: 'malformed UTF-8 is replaced per maximal subpart, as the JDK decoder does',
    der: cn(Buffer.from([0x61, 0xff, 0xc3, 0x62, 0xe2, 0x82])),
    expected: 'CN=a\ufffd\ufffdb\ufffd',
  },
  { why: 'VisibleString is not a "DER string" to Java: #hex even under CN', der: cn('vis', Tag.VISIBLE_STRING), expected: 'CN=#1a03766973' },
  { why: 'UniversalString likewise', der: cn(Buffer.from([0, 0, 0, 0x41]), Tag.UNIVERSAL_STRING), expected: 'CN=#1c0400000041' },
  { why: 'a constructed string encoding is hex as well', der: cn(encodeTlv(Tag.UTF8_STRING, Buffer.from('c')), 0x2c), expected: 'CN=#2c030c0163' },
  { why: 'an OID with arc 2 and a second arc above 39', der: name([ava('2.999.1', Tag.UTF8_STRING, 'x')]), expected: '2.999.1=#0c0178' },
  { why: 'an empty value', der: cn(''), expected: 'CN=' },
  { why: 'an empty Name is the empty string', der: name(), expected: '' },
  { why: 'an empty RDN prints as nothing between commas', der: name([ava(CN, Tag.UTF8_STRING, 'a')], [], [ava(CN, Tag.UTF8_STRING, 'b')]), expected: 'CN=b,,CN=a' },
];

for (const { why, der, expected } of cases) {
  test(`rfc2253: ${why}`, () => {
    assert.equal(rfc2253(der), expected);
  });
}

test('rfc2253: bytes that are not a Name give CERT_INVALID', () => {
  const bad: Array<[string, Buffer]> = [
    ['not a SEQUENCE', encodeSet()],
    ['RDN is not a SET', encodeSequence(encodeSequence())],
    ['AVA with three elements', encodeSequence(encodeSet(encodeSequence(encodeOid(CN), encodeTlv(Tag.UTF8_STRING), encodeTlv(Tag.NULL))))],
    ['truncated', name([ava(CN, Tag.UTF8_STRING, 'abc')]).subarray(0, 8)],
    ['trailing bytes', Buffer.concat([name(), Buffer.from([0])])],
  ];
  for (const [why, der] of bad) {
    assert.throws(() => rfc2253(der), (e) => isStratusError(e, 'CERT_INVALID'), why);
  }
});

test('rfc2253 of an OpenSSL-made certificate: escapes, emailAddress, multi-valued RDN, UTF-8', (t) => {
  // Real encoder output rather than hand-built DER: OpenSSL sorts the multi-valued RDN's SET by
  // encoding (the shorter CN AVA first) whatever order -subj gives, and Java prints that order.
  const dir = mkdtempSync(join(tmpdir(), 'stratus-dn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pem = join(dir, 'c.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', pem, '-days', '1',
    '-multivalue-rdn', '-utf8',
    '-subj', '/C=DE/O=Grüße, "Q" \\+ Co <x>;/OU=Zed+CN=b/emailAddress=x@y.org/CN=  spaced #1 =2 ',
  ], { stdio: 'pipe' });
  const cert = readCertificate(readFileSync(pem, 'utf8'));
  const expected = 'CN=\\ \\ spaced \\#1 \\=2\\ ,1.2.840.113549.1.9.1=#16077840792e6f7267,CN=b+OU=Zed,O=Grüße\\, \\"Q\\" \\+ Co \\<x\\>\\;,C=DE';
  assert.equal(cert.subject, expected);
  assert.equal(cert.issuer, expected);
});
