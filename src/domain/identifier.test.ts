import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { identifierFromSha1, isIdentifier, sha1HexFromIdentifier, sha1ValueFromIdentifier } from './identifier.js';
import { isStratusError } from './errors.js';

// The test vectors of reference §4.2, each checked there with an independent implementation.
const vectors: Array<[string, string, string]> = [
  ['the 20 bytes of storage test.img', 'dcaec27afc48e5d68a500e5a159310ba72b50292', 'Nyuwnr8SOXWilAOWhWTELpytQKS'],
  ['empty input', 'da39a3ee5e6b4b0d3255bfef95601890afd80709', 'No5o-5ea0sNMlW_75VgGJCv2AcJ'],
  ['foo', '0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33', 'Avux7XqPw_byV0N1H88W8J12ooz'],
  ['metadata fixtures', 'c319bbd5afc0a22ba3eaed0507c39383ec28eeff', 'MMZu9WvwKIro-rtBQfDk4PsKO7_'],
  ['marketplace fixtures', '1104f3e30c030f8b93f220b04131032dddf51f21', 'BEE8-MMAw-Lk_IgsEExAy3d9R8h'],
  ['all zero', '0'.repeat(40), 'AAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ['all f', 'f'.repeat(40), 'P__________________________'],
];

for (const [why, sha1, id] of vectors) {
  test(`identifier vector: ${why}`, () => {
    assert.equal(identifierFromSha1(sha1), id);
    assert.equal(sha1HexFromIdentifier(id), sha1);
    assert.equal(identifierFromSha1(Buffer.from(sha1, 'hex')), id);
  });
}

test('identifier of real bytes: "data for SHA1 digest" and "foo"', () => {
  const h = (s: string) => createHash('sha1').update(s).digest();
  assert.equal(identifierFromSha1(h('data for SHA1 digest')), 'Nyuwnr8SOXWilAOWhWTELpytQKS');
  assert.equal(identifierFromSha1(h('foo')), 'Avux7XqPw_byV0N1H88W8J12ooz');
  assert.equal(identifierFromSha1(h('')), 'No5o-5ea0sNMlW_75VgGJCv2AcJ');
});

test('identifier is not base64url of the digest (the 2013 paper trap)', () => {
  assert.notEqual(identifierFromSha1('dcaec27afc48e5d68a500e5a159310ba72b50292'), 'wxm71a_Aoiuj6u0FB8OTg-wo7v8');
});

test('leading zero in SHA-1 compares numerically', () => {
  assert.equal(sha1ValueFromIdentifier('MMZu9WvwKIro-rtBQfDk4PsKO7_'), BigInt('0x0c319bbd5afc0a22ba3eaed0507c39383ec28eeff'));
});

test('invalid identifiers: too short, too long, bad characters, over 160 bits', () => {
  for (const bad of ['A', 'A'.repeat(28), 'A'.repeat(26), 'MMZu9WvwKIro-rtBQfDk4PsKO7:', 'MMZu9WvwKIro+rtBQfDk4PsKO7_']) {
    assert.equal(isIdentifier(bad), false, bad);
    assert.throws(() => sha1ValueFromIdentifier(bad), (e) => isStratusError(e, 'IDENTIFIER_INVALID'));
  }
  assert.throws(() => sha1ValueFromIdentifier('Q__________________________'), (e) => isStratusError(e, 'IDENTIFIER_INVALID'));
});

test('every alphabet letter makes a valid identifier', () => {
  for (const ch of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
    assert.ok(isIdentifier(ch.repeat(27)));
  }
});

test('invalid SHA-1: non-hex, too long', () => {
  assert.throws(() => identifierFromSha1('xyz'), (e) => isStratusError(e, 'SHA1_INVALID'));
  assert.throws(() => identifierFromSha1('1' + 'f'.repeat(40)), (e) => isStratusError(e, 'SHA1_INVALID'));
});
