import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStratusError } from '../domain/errors.js';
import { compressedBound } from '../domain/volume.js';
import { UploadBudgets } from './budget.js';

const GIB = 1024 ** 3;
const unlimited = { gib: null, volumes: null };

function refuses(f: () => void, code: 'QUOTA_EXCEEDED' | 'VOLUME_TOO_LARGE', message: RegExp): void {
  assert.throws(f, (e: unknown) => isStratusError(e, code) && message.test(e.message));
}

test('max_volume_gib: content up to the limit passes, the byte after it is refused', () => {
  const b = new UploadBudgets(2).open('alice', { n: 0, gib: 0 }, unlimited);
  b.content(2 * GIB);
  refuses(() => b.content(1), 'VOLUME_TOO_LARGE', /limit of 2 GiB per volume \(max_volume_gib\): the upload was stopped after 2147483649 bytes/);
});

test('the quota counts whole GiB, at least one, against what the owner uses', () => {
  const budgets = new UploadBudgets(1024);
  refuses(() => budgets.open('bob', { n: 3, gib: 3 }, { gib: 3, volumes: null }), 'QUOTA_EXCEEDED', /^quota exceeded: bob uses 3 GiB of a 3 GiB quota; this upload needs 1 GiB$/);
  const b = budgets.open('bob', { n: 1, gib: 1 }, { gib: 3, volumes: null });
  b.content(2 * GIB);
  refuses(() => b.content(1), 'QUOTA_EXCEEDED', /bob uses 1 GiB of a 3 GiB quota; this upload needs 3 GiB \(stopped after 2147483649 bytes/);
});

test("one owner's uploads in flight share its quota; what one gives back on close the next may take; other owners are apart", () => {
  const budgets = new UploadBudgets(1024);
  const quota = { gib: 3, volumes: null };
  const a = budgets.open('bob', { n: 0, gib: 0 }, quota);
  const b = budgets.open('bob', { n: 0, gib: 0 }, quota);
  a.content(2 * GIB); // a: 2 GiB, b: 1 GiB
  refuses(() => b.content(GIB + 1), 'QUOTA_EXCEEDED', /bob uses 0 GiB and 2 GiB in other uploads in progress of a 3 GiB quota; this upload needs 2 GiB/);
  a.close();
  const c = budgets.open('bob', { n: 0, gib: 0 }, quota);
  c.content(2 * GIB); // a's 2 GiB are free again; b still holds 1
  refuses(() => c.content(1), 'QUOTA_EXCEEDED', /and 1 GiB in other uploads in progress/);
  const other = budgets.open('carol', { n: 0, gib: 0 }, quota);
  other.content(3 * GIB);
  b.close();
  c.close();
  c.close(); // twice is harmless
  other.close();
  budgets.open('bob', { n: 0, gib: 0 }, quota).content(3 * GIB);
});

test('bytes as received are bounded by the compressed size of the most content allowed', () => {
  const byMax = new UploadBudgets(1).open('alice', { n: 0, gib: 0 }, unlimited);
  byMax.received(compressedBound(GIB));
  refuses(() => byMax.received(1), 'VOLUME_TOO_LARGE', /bytes were received for at most 1 GiB of content, the limit of this server \(max_volume_gib\)/);
  const byQuota = new UploadBudgets(1024).open('bob', { n: 1, gib: 1 }, { gib: 2, volumes: null });
  byQuota.received(compressedBound(GIB));
  refuses(() => byQuota.received(1), 'QUOTA_EXCEEDED', /at most 1 GiB of content, which is all the 2 GiB quota of bob leaves/);
});
