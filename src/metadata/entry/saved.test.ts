import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identifierFromSha1 } from '../../domain/identifier.js';
import { parseXml } from '../xml/parse.js';
import { buildEntryXml, newDraft } from './build.js';
import { readEntry } from './entry.js';
import type { Entry } from './entry.js';
import { BUILT_IMAGE_VALID_DAYS, nextVersion, savedImageDraft } from './saved.js';

test('the version rule: the parent\'s minor part incremented, each edge case as decided', () => {
  const cases: Array<[string | undefined, string, string]> = [
    ['1.4', '1.5', 'the rule itself (§2.4)'],
    ['1.9', '1.10', 'a number, not a digit: no carry into the major part'],
    ['1.09', '1.10', 'the width of a zero-padded minor part is kept'],
    ['1.04', '1.05', 'the width of a zero-padded minor part is kept'],
    ['1.4.7', '1.5.0', 'what follows the minor part starts again at 0'],
    ['1.4.7.2', '1.5.0.0', 'every later numeric part starts again'],
    ['1.4.beta', '1.5', 'a non-numeric part after the minor one ends the version'],
    ['1.4rc2', '1.5', 'the suffix of the minor part described 1.4'],
    ['1.4rc2.3', '1.5', 'a later part of a suffixed minor part is not a patch level'],
    ['v2.3', 'v2.4', 'any major part, as text'],
    ['2', '2.1', 'no minor part: one is added'],
    ['jessie', 'jessie.1', 'no minor part: one is added'],
    ['1.x', '1.x.1', 'a minor part that is no number: one is added'],
    [' 1.4 ', '1.5', 'blanks around are not part of it'],
    ['', '0.1', 'an empty version counts as 0.0'],
    [undefined, '0.1', 'no version counts as 0.0'],
    ['1.99999999999999999999', '1.100000000000000000000', 'no precision lost on long numbers'],
  ];
  for (const [parent, next, why] of cases) assert.equal(nextVersion(parent), next, `${String(parent)}: ${why}`);
});

const CONTENT = {
  bytes: 41_943_040,
  digests: {
    md5: '0123456789abcdef0123456789abcdef',
    sha1: 'dcaec27afc48e5d68a500e5a159310ba72b50292',
    sha256: 'a'.repeat(64),
    sha512: 'b'.repeat(128),
  },
};

function parent(): Entry {
  const draft = newDraft({ bytes: 1000, digests: { md5: 'f'.repeat(32), sha1: '0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33', sha256: 'c'.repeat(64), sha512: 'd'.repeat(128) } }, {
    os: 'ttylinux', osVersion: '16.1', osArch: 'x86_64', type: 'base', kind: 'machine', version: '1.4', title: 'ttylinux base', description: 'the base image',
    creator: 'Builder', format: 'qcow2', compression: 'gz', locations: ['https://example.org/ttylinux.img.gz', 'https://mirror.example.org/ttylinux.img.gz'],
    disksBus: 'virtio', inboundPorts: [22, 80], hypervisor: 'kvm', publisher: 'StratusLab', alternative: 'ttylinux', deprecated: 'superseded',
  }, 178, new Date('2026-01-01T00:00:00Z'));
  return readEntry(parseXml(buildEntryXml(draft)));
}

const SAVE = {
  content: CONTENT, volume: '3f9e1d2c-1111-4222-8333-444455556666', pdiskEndpoint: 'https://cloud.example.org:8445',
  creator: 'Jane Tester', title: 'ttylinux with cloud.txt', description: 'adds /var/www/html/cloud.txt', validDays: BUILT_IMAGE_VALID_DAYS, now: new Date('2026-12-06T08:00:00.500Z'),
};

test('the draft of a saved image: the parent\'s entry with the new identifier, bytes and ALL four checksums, creator, version, title, description, one pdisk: location, 2 days', () => {
  const d = savedImageDraft(parent(), SAVE);
  assert.equal(d.identifier, identifierFromSha1(CONTENT.digests.sha1));
  assert.equal(d.bytes, CONTENT.bytes, 'the saved disk\'s size, not the parent\'s (StratusLab kept the parent\'s)');
  assert.deepEqual(d.checksums, { MD5: CONTENT.digests.md5, 'SHA-1': CONTENT.digests.sha1, 'SHA-256': CONTENT.digests.sha256, 'SHA-512': CONTENT.digests.sha512 });
  assert.deepEqual([d.creator, d.version, d.title, d.description], ['Jane Tester', '1.5', 'ttylinux with cloud.txt', 'adds /var/www/html/cloud.txt']);
  assert.deepEqual(d.locations, ['pdisk:cloud.example.org:8445:3f9e1d2c-1111-4222-8333-444455556666'], 'the colon form, the parent\'s locations gone');
  assert.deepEqual([d.created, d.valid], ['2026-12-06T08:00:00Z', '2026-12-08T08:00:00Z']);
  // Inherited: what describes the system, not the file.
  assert.deepEqual([d.os, d.osVersion, d.osArch, d.type, d.kind, d.disksBus, d.inboundPorts, d.hypervisor, d.alternative], ['ttylinux', '16.1', 'x86_64', 'base', 'machine', 'virtio', [22, 80], 'kvm', 'ttylinux']);
  // Not inherited: the parent's file and its fate.
  assert.deepEqual([d.format, d.compression, d.deprecated], ['raw', undefined, undefined]);
});

test('the draft: --image-version wins over the rule; a blank one does not; validity follows built_image_validity_period', () => {
  assert.equal(savedImageDraft(parent(), { ...SAVE, version: '7.0' }).version, '7.0');
  assert.equal(savedImageDraft(parent(), { ...SAVE, version: '  ' }).version, '1.5');
  assert.equal(savedImageDraft(parent(), { ...SAVE, validDays: 30 }).valid, '2027-01-05T08:00:00Z');
});

test('the draft is an entry: written by the entry builder and read back, with the same values', () => {
  const d = savedImageDraft(parent(), SAVE);
  const back = readEntry(parseXml(buildEntryXml(d)));
  assert.equal(back.identifier, d.identifier);
  assert.equal(back.bytes, CONTENT.bytes);
  assert.deepEqual(back.checksums.map((c) => c.algorithm), ['MD5', 'SHA-1', 'SHA-256', 'SHA-512']);
  assert.deepEqual(back.locations, d.locations);
});

test('the draft does not share arrays with the parent: changing one leaves the other', () => {
  const p = parent();
  const d = savedImageDraft(p, SAVE);
  d.inboundPorts?.push(443);
  assert.deepEqual(p.inboundPorts, [22, 80]);
});

test('an image with no entry (run from an origin volume or a plain URL) gives a draft of what the save knows, version 0.1', () => {
  const d = savedImageDraft(undefined, SAVE);
  assert.deepEqual([d.identifier, d.bytes, d.version, d.format, d.os, d.locations], [identifierFromSha1(CONTENT.digests.sha1), CONTENT.bytes, '0.1', 'raw', undefined, ['pdisk:cloud.example.org:8445:3f9e1d2c-1111-4222-8333-444455556666']]);
});
