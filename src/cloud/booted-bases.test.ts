import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BootedBases } from './booted-bases.js';
import type { BootRequest } from '../compute/booted-base.js';
import type { VolumeRow } from '../storage/volumes/store.js';
import { tempDir } from '../../test/helpers/tmp.js';

/**
 * The bookkeeping of booted bases, with a fake maker (the real one boots a VM: see
 * test/vm/booted-base.test.ts).
 */
const origin = { uuid: '0f0e3f86-7a4c-4b8e-9a53-0d1f2c3b4a5d', identifier: 'DMLFBzIBvZpiiqH8IdYzsYQb0um', bytes: 2147483648 } as unknown as VolumeRow;
const image = { path: '/nowhere/disk.raw', format: 'raw' as const };
const shape = { vcpus: 2, memoryMiB: 1024 };

const yes = async (): Promise<boolean> => true;

function maker(calls: BootRequest[], fail?: string): (r: BootRequest) => Promise<void> {
  return async (r) => {
    calls.push(r);
    if (fail) throw new Error(fail);
    writeFileSync(r.disk, 'disk');
    writeFileSync(r.state, 'state');
  };
}

test('booted bases: asked for, one is made once in the background, found, and not made again while new', async () => {
  const calls: BootRequest[] = [];
  const bases = new BootedBases({ dir: join(tempDir(), 'booted'), make: maker(calls), hasAgent: yes });
  assert.equal(await bases.find(origin, shape), undefined);
  await bases.want(origin, image, shape);
  await bases.want(origin, image, shape);
  await bases.idle();
  assert.equal(calls.length, 1, 'asked twice while queued: made once');
  assert.equal(calls[0]?.name.startsWith('booted-'), true);
  const found = await bases.find(origin, shape);
  assert.ok(found && existsSync(found.disk) && existsSync(found.state));
  await bases.want(origin, image, shape);
  await bases.idle();
  assert.equal(calls.length, 1, 'a new base is not made again');
  assert.equal(await bases.find(origin, { vcpus: 1, memoryMiB: 1024 }), undefined, 'another shape is another base');
  assert.notEqual(await bases.keyOf(origin, shape), await bases.keyOf({ ...origin, identifier: 'other' } as VolumeRow, shape));
});

test('booted bases: an old one is made again; a discarded one is gone', async () => {
  const calls: BootRequest[] = [];
  const bases = new BootedBases({ dir: join(tempDir(), 'booted'), make: maker(calls), hasAgent: yes, maxAgeMs: 1 });
  await bases.want(origin, image, shape);
  await bases.idle();
  await new Promise((r) => setTimeout(r, 5));
  await bases.want(origin, image, shape);
  await bases.idle();
  assert.equal(calls.length, 2);
  const found = await bases.find(origin, shape);
  assert.ok(found);
  bases.discard(found.key, 'test');
  assert.equal(await bases.find(origin, shape), undefined);
  bases.discard('../../etc', 'a key that is not one names nothing');
});

test('booted bases: at most maxBases are kept, the least recently resumed going first', async () => {
  const calls: BootRequest[] = [];
  const dir = join(tempDir(), 'booted');
  const bases = new BootedBases({ dir, make: maker(calls), hasAgent: yes, maxBases: 2 });
  const shapes = [1, 2, 3].map((vcpus) => ({ vcpus, memoryMiB: 512 }));
  for (const s of shapes.slice(0, 2)) {
    await bases.want(origin, image, s);
    await bases.idle();
    await new Promise((r) => setTimeout(r, 20));
  }
  // The older one is used since: the newer goes when a third comes.
  bases.resumed((await bases.find(origin, shapes[0] as typeof shape))?.key as string, 7);
  await new Promise((r) => setTimeout(r, 20));
  await bases.want(origin, image, shapes[2] as typeof shape);
  await bases.idle();
  assert.ok(await bases.find(origin, shapes[0] as typeof shape), 'the one resumed lately stays');
  assert.equal(await bases.find(origin, shapes[1] as typeof shape), undefined, 'the least recently used went');
  assert.ok(await bases.find(origin, shapes[2] as typeof shape), 'the one just made stays');
});

test('booted bases: one that could not be made is not tried again for a while, and leaves no files', async () => {
  const calls: BootRequest[] = [];
  const dir = join(tempDir(), 'booted');
  const bases = new BootedBases({ dir, make: maker(calls, 'the guest agent did not answer'), hasAgent: yes });
  await bases.want(origin, image, shape);
  await bases.idle();
  await bases.want(origin, image, shape);
  await bases.idle();
  assert.equal(calls.length, 1);
  assert.equal(await bases.find(origin, shape), undefined);
  assert.deepEqual(readdirSync(dir).filter((n) => !n.endsWith('.failed')), []);
});

test('booted bases: an image without the guest agent gets none, and nothing boots for it', async () => {
  const calls: BootRequest[] = [];
  const dir = join(tempDir(), 'booted');
  const bases = new BootedBases({ dir, make: maker(calls), hasAgent: async () => false });
  await bases.want(origin, image, shape);
  await bases.idle();
  assert.equal(calls.length, 0);
  assert.match(readFileSync(join(dir, readdirSync(dir)[0] as string), 'utf8'), /no \/usr\/sbin\/qemu-ga/);
});

test('booted bases: what a server left half made is removed at start; after close nothing more is made', async () => {
  const dir = join(tempDir(), 'booted');
  mkdirSync(join(dir, 'abc.part'), { recursive: true });
  mkdirSync(join(dir, '.vm', 'booted-1'), { recursive: true });
  const calls: BootRequest[] = [];
  const bases = new BootedBases({ dir, make: maker(calls), hasAgent: yes });
  assert.equal(await bases.reconcile(), 2);
  assert.deepEqual(readdirSync(dir), []);
  await bases.close();
  await bases.want(origin, image, shape);
  await bases.idle();
  assert.equal(calls.length, 0);
});
