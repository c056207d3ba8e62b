import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesToGib, parsePdiskLocation, pdiskLocation, requireSize, requireUuid } from './volume.js';
import { isStratusError } from './errors.js';

const GIB = 1024 ** 3;

test('bytesToGib rounds up with a minimum of 1 (StratusLab DiskUtilsTest)', () => {
  for (const [bytes, gib] of [[-1, 1], [0, 1], [GIB - 1, 1], [GIB, 1], [GIB + 1, 2], [2 * GIB, 2], [2 * GIB + 1, 3]]) {
    assert.equal(bytesToGib(bytes as number), gib, String(bytes));
  }
});

test('sizes are integers from 1 to 1024 GiB, with the StratusLab message', () => {
  assert.equal(requireSize('5'), 5);
  for (const bad of ['0', '1025', 'x', '1.5', '']) {
    assert.throws(() => requireSize(bad), (e) => isStratusError(e, 'VOLUME_INVALID') && e.message === 'Size must be an integer between 1 and 1024');
  }
});

test('UUIDs are validated with the StratusLab message', () => {
  assert.equal(requireUuid('410B7FB4-973B-4B6D-82A7-E637A5103F4D'), '410b7fb4-973b-4b6d-82a7-e637a5103f4d');
  assert.throws(() => requireUuid('not-a-uuid'), (e) => isStratusError(e, 'VOLUME_INVALID') && e.message === 'Invalid UUID not-a-uuid');
});

test('pdisk locations: the colon form and the HTTP forms resolve to an endpoint and a uuid', () => {
  const uuid = '410b7fb4-973b-4b6d-82a7-e637a5103f4d';
  const cases: Array<[string, string | undefined, string]> = [
    [`pdisk:127.0.0.1:9204:${uuid}`, 'http://127.0.0.1:9204', 'loopback colon form → http'],
    [`pdisk:cloud.example.org:8445:${uuid}`, 'https://cloud.example.org:8445', 'remote colon form → https'],
    [`https://cloud.example.org:8445/pswd/disks/${uuid}`, 'https://cloud.example.org:8445', 'upload-image URL form'],
    [`http://127.0.0.1:9204/pswd/disks/${uuid}/`, 'http://127.0.0.1:9204', 'trailing slash'],
    [`http://127.0.0.1:9204/disks/${uuid}`, 'http://127.0.0.1:9204', 'without /pswd'],
    ['http://images.example.org/ubuntu.img.gz', undefined, 'a web location is not a volume'],
    ['pdisk:host:80:not-a-uuid-at-all-xxxxxxxxxxxxxxxxxxxx', undefined, 'bad uuid'],
  ];
  for (const [loc, endpoint, why] of cases) {
    const r = parsePdiskLocation(loc);
    assert.equal(r?.endpoint, endpoint, why);
    if (endpoint) assert.equal(r?.uuid, uuid, why);
  }
  assert.equal(pdiskLocation('http://127.0.0.1:9204', uuid), `pdisk:127.0.0.1:9204:${uuid}`);
});
