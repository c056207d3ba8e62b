import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DerError, Tag, children, decodeOid, decodeTime, encodeLength, encodeOid, encodeSequence, encodeTime, encodeTlv, encodeUnsignedInteger, parseDer, readTlv } from './der.js';

test('readTlv: short and long lengths, content and raw views', () => {
  const short = Buffer.from([0x04, 0x02, 0xaa, 0xbb, 0xff]);
  const tlv = readTlv(short);
  assert.equal(tlv.tag, Tag.OCTET_STRING);
  assert.deepEqual(tlv.content, Buffer.from([0xaa, 0xbb]));
  assert.deepEqual(tlv.raw, short.subarray(0, 4));

  const long = encodeTlv(Tag.OCTET_STRING, Buffer.alloc(300, 1));
  assert.deepEqual(long.subarray(0, 4), Buffer.from([0x04, 0x82, 0x01, 0x2c]));
  assert.equal(readTlv(long).content.length, 300);
});

test('readTlv: class, constructed bit and tag number of a context-specific tag', () => {
  const tlv = readTlv(Buffer.from([0xa3, 0x00]));
  assert.equal(tlv.tagClass, 2);
  assert.equal(tlv.constructed, true);
  assert.equal(tlv.tagNumber, 3);
});

test('children: the elements of a SEQUENCE in order', () => {
  const seq = encodeSequence(encodeTlv(Tag.NULL), encodeOid('2.5.4.3'), encodeSequence());
  assert.deepEqual(children(parseDer(seq)).map((c) => c.tag), [Tag.NULL, Tag.OID, Tag.SEQUENCE]);
});

test('malformed DER is refused with DerError', () => {
  const bad: Array<[string, Buffer]> = [
    ['empty input', Buffer.alloc(0)],
    ['no length', Buffer.from([0x30])],
    ['indefinite length (BER)', Buffer.from([0x30, 0x80, 0x00, 0x00])],
    ['value longer than input', Buffer.from([0x04, 0x05, 0x00])],
    ['high tag number form', Buffer.from([0x1f, 0x81, 0x00, 0x00])],
  ];
  for (const [why, buf] of bad) assert.throws(() => readTlv(buf), DerError, why);
  assert.throws(() => parseDer(Buffer.from([0x05, 0x00, 0x00])), /trailing/);
  assert.throws(() => children(readTlv(Buffer.from([0x04, 0x00]))), /primitive/);
});

test('OIDs: decode and encode agree, including arc 2 above 39 and arcs beyond 2^53', () => {
  for (const oid of ['2.5.4.3', '1.2.840.113549.1.9.1', '0.9.2342.19200300.100.1.25', '2.999.1', '1.3.6.1.4.1.99999999999999999999']) {
    assert.equal(decodeOid(readTlv(encodeOid(oid)).content), oid);
  }
  assert.deepEqual(encodeOid('1.2.840.113549.1.9.1'), Buffer.from('06092a864886f70d010901', 'hex'));
  assert.throws(() => decodeOid(Buffer.from([0x2a, 0x86])), /truncated/);
});

test('times: UTCTime windows 1950-2049, GeneralizedTime otherwise', () => {
  const utc = (s: string) => decodeTime(readTlv(encodeTlv(Tag.UTC_TIME, Buffer.from(s))));
  const gen = (s: string) => decodeTime(readTlv(encodeTlv(Tag.GENERALIZED_TIME, Buffer.from(s))));
  assert.equal(utc('110212102911Z').toISOString(), '2011-02-12T10:29:11.000Z');
  assert.equal(utc('500101000000Z').toISOString(), '1950-01-01T00:00:00.000Z');
  assert.equal(gen('20500101000000Z').toISOString(), '2050-01-01T00:00:00.000Z');
  assert.throws(() => utc('2011-02-12'), DerError);

  const d = new Date('2049-12-31T23:59:59Z');
  assert.equal(encodeTime(d)[0], Tag.UTC_TIME);
  assert.equal(decodeTime(readTlv(encodeTime(d))).getTime(), d.getTime());
  const later = new Date('2050-01-01T00:00:00Z');
  assert.equal(encodeTime(later)[0], Tag.GENERALIZED_TIME);
  assert.equal(decodeTime(readTlv(encodeTime(later))).getTime(), later.getTime());
});

test('encodeUnsignedInteger keeps integers positive and minimal', () => {
  assert.deepEqual(encodeUnsignedInteger(Buffer.from([0x80])), Buffer.from([0x02, 0x02, 0x00, 0x80]));
  assert.deepEqual(encodeUnsignedInteger(Buffer.from([0x00, 0x00, 0x7f])), Buffer.from([0x02, 0x01, 0x7f]));
  assert.deepEqual(encodeUnsignedInteger(Buffer.alloc(0)), Buffer.from([0x02, 0x01, 0x00]));
  assert.deepEqual(encodeLength(0x7f), Buffer.from([0x7f]));
  assert.deepEqual(encodeLength(0x80), Buffer.from([0x81, 0x80]));
});
