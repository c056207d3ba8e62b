/**
 * The instance layer cache below the cloud (volumes/layers.ts), on real files: a real SQLite
 * database, a real raw origin, instance disks made by InstanceDisks and written with qemu-io as a
 * guest would, layers frozen with the real qemu-img. What a layer holds is checked with
 * `qemu-img compare` against the disk it was frozen from; how large it is with stat; what a
 * crash leaves with the start-up reconcile. The freeze through QMP on a running QEMU is in
 * instance-layers-api.test.ts, and on a ttylinux guest in test/vm/instance-layers.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { isStratusError } from '../../src/domain/errors.js';
import type { ErrorCode } from '../../src/domain/errors.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import type { Principal } from '../../src/accounts/accounts.js';
import { openSqlite } from '../../src/storage/database.js';
import { UserStore } from '../../src/storage/users.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import { LayerStore } from '../../src/storage/layers.js';
import type { LayerRow } from '../../src/storage/layers.js';
import { createFileVolumeDriver } from '../../src/storage/volumes/file-driver.js';
import { InstanceDisks } from '../../src/volumes/instance-disks.js';
import { InstanceLayers } from '../../src/volumes/layers.js';
import type { VolumeRow } from '../../src/storage/volumes/store.js';
import { tempDir } from '../helpers/tmp.js';
import { rawDiskFile } from '../helpers/raw-disk.js';
import { after } from 'node:test';

const MIB = 1024 * 1024;
const ALICE: Principal = { id: randomUUID(), username: 'alice', admin: false };
const BOB: Principal = { id: randomUUID(), username: 'bob', admin: false };
const unlimited = { quotaOf: async () => ({ gib: null, volumes: null }) };
const NONE: ReadonlySet<string> = new Set();

const dir = tempDir('stratus-layers-');
const database = await openSqlite(join(dir, 'stratus.db'));
after(() => database.close());
for (const p of [ALICE, BOB, { id: randomUUID(), username: 'admin', admin: true }]) {
  await new UserStore(database).insert({ id: p.id, username: p.username, password_hash: 'unused', is_admin: p.admin ? 1 : 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z' });
}
const driver = createFileVolumeDriver(join(dir, 'volumes'), { durable: false });
const volumes = new VolumeStore(database);
const disks = new InstanceDisks(volumes, driver, unlimited, 'admin');
const layerStore = new LayerStore(database);
const layersDir = join(dir, 'layers');
let tick = 0;
/** A clock that moves a second per reading, so "least recently used" is never a tie. */
const clock = (): Date => new Date(Date.UTC(2026, 0, 1) + 1000 * tick++);
const layers = new InstanceLayers({ store: layerStore, volumes, disks, dir: layersDir, capBytes: 1024 * MIB, clock });

const tool = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', cwd: dir });
const key = (): string => randomBytes(32).toString('hex');
/** Stands in for QMP stop/cont: counts the pauses and runs the work. */
let pauses = 0;
const paused = <T>(work: () => Promise<T>): Promise<T> => {
  pauses++;
  return work();
};

/** A 64 MiB raw origin (the pdisk user's, as the image cache keeps them) with data at 0, 10 MiB and its end. */
async function origin(): Promise<VolumeRow> {
  const path = rawDiskFile(join(dir, `origin-${randomUUID()}.raw`));
  return disks.addOrigin(path, { identifier: identifierFromSha1(randomBytes(20)), format: 'raw' });
}

/** Writes to an instance disk as its guest would (qemu-io commands). */
function write(volume: VolumeRow, ...commands: string[]): void {
  for (const c of commands) tool('qemu-io', ['-f', 'qcow2', '-c', c, disks.locate(volume.uuid).path]);
}

/** `qemu-img compare` of two images as guests read them: whether they are identical. */
function identical(a: string, b: string): boolean {
  return spawnSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', a, b], { cwd: dir }).status === 0;
}

const fileOf = (row: LayerRow): string => join(layersDir, row.owner_id, `${row.id}.qcow2`);
const diskOf = (volume: VolumeRow): string => disks.locate(volume.uuid).path;

function backingOf(file: string): string {
  const info = JSON.parse(tool('qemu-img', ['info', '--output=json', '-f', 'qcow2', file])) as { 'backing-filename': string; 'backing-filename-format': string };
  return info['backing-filename'];
}

async function refused(code: ErrorCode, work: () => Promise<unknown>, message?: RegExp): Promise<void> {
  await assert.rejects(work, (e: unknown) => isStratusError(e, code) && (!message || message.test(e.message)));
}

describe('instance layers on real qcow2 files', () => {
  const base = origin();

  it('a layer holds exactly what the instance disk reads, as a small delta over the origin named relative to the layer', async () => {
    const o = await base;
    const disk = await disks.liveCopy(ALICE, o, 'the test image');
    // new data, a partial cluster over the origin's data, zeros over the origin's data
    write(disk, 'write -P 0x5a 20M 2M', 'write -P 0x11 10485000 70000', 'write -z 12M 1M');
    const before = pauses;
    const k = key();
    const row = await layers.freeze(ALICE, k, disk.uuid, paused, NONE);
    assert.equal(pauses, before + 1, 'the copy ran with the guest paused, once');
    const file = fileOf(row);
    assert.ok(identical(diskOf(disk), file), 'the layer reads as the disk');
    assert.equal(row.bytes, statSync(file).size);
    assert.ok(row.bytes < 4 * MIB, `a delta of ~3 MiB written over a 64 MiB origin: ${row.bytes} bytes`);
    const backing = backingOf(file);
    assert.ok(!backing.startsWith('/'), `relative, so the data dir can move: ${backing}`);
    assert.equal(resolve(dirname(file), backing), resolve(diskOf(o)));
    assert.deepEqual([row.key, row.origin, row.owner, row.owner_id], [k, o.uuid, 'alice', ALICE.id]);
    assert.deepEqual(readdirSync(dirname(file)), [`${row.id}.qcow2`], 'no temporary file is left');
    tool('qemu-img', ['check', '-q', file]);
    assert.deepEqual(await layers.get(ALICE, k), row);
  });

  it('a disk started from a layer reads as it; a layer frozen from that disk is again one delta over the origin, and outlives the older layer', async () => {
    const o = await base;
    const first = await layers.freeze(ALICE, key(), (await writtenDisk(o, 'write -P 0x21 30M 1M')).uuid, paused, NONE);
    const { volume: disk, layer } = await layers.liveCopy(ALICE, first.key, o, 'the test image');
    assert.equal(layer.id, first.id);
    assert.deepEqual([disk.type, disk.origin, disk.owner, disk.format], ['MACHINE_IMAGE_LIVE', o.uuid, 'alice', 'qcow2']);
    assert.ok(identical(diskOf(disk), fileOf(first)), 'the new disk starts as the layer');
    assert.equal(resolve(dirname(diskOf(disk)), backingOf(diskOf(disk))), resolve(diskOf(o)), 'and is one overlay straight over the origin');
    assert.notEqual((await layerStore.get(ALICE.id, first.key))?.used, first.used, 'the run counts as a use');

    write(disk, 'write -P 0x22 40M 1M');
    const second = await layers.freeze(ALICE, key(), disk.uuid, paused, NONE);
    assert.equal(resolve(dirname(fileOf(second)), backingOf(fileOf(second))), resolve(diskOf(o)), 'over the origin, not over the first layer');
    assert.ok(identical(diskOf(disk), fileOf(second)), 'with both steps in it');
    await layers.remove(ALICE, first.key, NONE);
    assert.equal(existsSync(fileOf(first)), false);
    assert.ok(identical(diskOf(disk), fileOf(second)), 'deleting the older layer breaks nothing');
    assert.equal(await layers.get(ALICE, first.key), undefined);
  });

  it('--save of a disk started from a layer: the saved volume is the whole disk, read through the origin', async () => {
    const o = await base;
    const layer = await layers.freeze(ALICE, key(), (await writtenDisk(o, 'write -P 0x31 5M 1M')).uuid, paused, NONE);
    const { volume: disk } = await layers.liveCopy(ALICE, layer.key, o, 'the test image');
    write(disk, 'write -P 0x32 50M 1M');
    const { volume, content } = await disks.saveSnapshot(disk.uuid, { username: ALICE.username, id: ALICE.id }, { tag: 'from a layer' });
    // A standalone qcow2 (saved_image_format's default): it reads as the disk, and the sums are the file's.
    tool('qemu-img', ['compare', '-f', 'qcow2', '-F', volume.format, diskOf(disk), diskOf(volume)]);
    assert.equal(tool('sha1sum', [diskOf(volume)]).split(' ')[0], content.digests.sha1);
    const raw = await disks.saveSnapshot(disk.uuid, { username: ALICE.username, id: ALICE.id }, { tag: 'from a layer, raw', format: 'raw' });
    const flat = join(dir, `flat-${randomUUID()}.raw`);
    tool('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', diskOf(disk), flat]);
    assert.equal(raw.content.digests.sha1, tool('sha1sum', [flat]).split(' ')[0]);
  });

  it('one key per account: saving it again replaces the layer (a new file, the old one gone); another account\'s same key is its own', async () => {
    const o = await base;
    const k = key();
    const old = await layers.freeze(ALICE, k, (await writtenDisk(o, 'write -P 0x41 1M 1M')).uuid, paused, NONE);
    const disk = await writtenDisk(o, 'write -P 0x42 2M 1M');
    const now = await layers.freeze(ALICE, k, disk.uuid, paused, NONE);
    assert.notEqual(now.id, old.id);
    assert.equal(existsSync(fileOf(old)), false);
    assert.ok(identical(diskOf(disk), fileOf(now)));
    assert.deepEqual((await layerStore.ofOwner(ALICE.id)).filter((r) => r.key === k).map((r) => r.id), [now.id]);
    assert.equal(await layers.get(BOB, k), undefined, 'bob has no layer of that key');
    await refused('LAYER_NOT_FOUND', () => layers.liveCopy(BOB, k, o, 'x'));
    await refused('LAYER_NOT_FOUND', () => layers.remove(BOB, k, NONE));
    const bobs = await layers.freeze(BOB, k, (await writtenDisk(o, 'write -P 0x43 3M 1M', BOB)).uuid, paused, NONE);
    assert.notEqual(dirname(fileOf(bobs)), dirname(fileOf(now)), 'each account has its folder');
    assert.equal((await layers.get(ALICE, k))?.id, now.id, 'alice\'s layer is untouched');
  });

  it('a layer runs only over the origin it was made over; keys that are not 64 lowercase hex digits are refused before anything is touched', async () => {
    const o = await base;
    const other = await origin();
    const layer = await layers.freeze(ALICE, key(), (await writtenDisk(o, 'write -P 0x51 1M 64k')).uuid, paused, NONE);
    const rows = (await volumes.list()).length;
    await refused('LAYER_MISMATCH', () => layers.liveCopy(ALICE, layer.key, other, 'x'), /was made over another base image/);
    assert.equal((await volumes.list()).length, rows, 'no disk was made');
    const disk = await writtenDisk(o, 'write -P 0x52 1M 64k');
    for (const bad of ['../../etc', '..%2F..%2Fetc', layer.key.toUpperCase(), layer.key.slice(1), `${layer.key}0`, '', `/${layer.key.slice(1)}`]) {
      await refused('LAYER_INVALID', () => layers.get(ALICE, bad), /is not 64 lowercase hexadecimal digits/);
      await refused('LAYER_INVALID', () => layers.freeze(ALICE, bad, disk.uuid, paused, NONE));
      await refused('LAYER_INVALID', () => layers.remove(ALICE, bad, NONE));
    }
    await refused('LAYER_MISMATCH', () => layers.freeze(ALICE, key(), o.uuid, paused, NONE), /not a snapshot the cloud made/);
  });

  it('the cache of an account is bounded: its least recently used layers that no live instance started from go first; what cannot fit is refused and nothing is kept', async () => {
    const o = await base;
    const sized = await layers.freeze(ALICE, key(), (await writtenDisk(o, 'write -P 0x61 1M 1M')).uuid, paused, NONE);
    const small = new InstanceLayers({ store: layerStore, volumes, disks, dir: layersDir, capBytes: Math.floor(2.5 * Number(sized.bytes)), clock });
    const carol: Principal = { id: randomUUID(), username: 'carol', admin: false };
    await new UserStore(database).insert({ id: carol.id, username: 'carol', password_hash: 'unused', is_admin: 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z' });
    const save = async (fill: number, inUse: ReadonlySet<string> = NONE): Promise<LayerRow> =>
      small.freeze(carol, key(), (await writtenDisk(o, `write -P ${fill} 1M 1M`, carol)).uuid, paused, inUse);
    const k1 = await save(0x71);
    const k2 = await save(0x72);
    await small.liveCopy(carol, k1.key, o, 'x');
    const k3 = await save(0x73);
    assert.deepEqual((await layerStore.ofOwner(carol.id)).map((r) => r.id).sort(), [k1.id, k3.id].sort(), 'k2, the least recently used, made room');
    assert.equal(existsSync(fileOf(k2)), false);
    const files = readdirSync(join(layersDir, carol.id)).sort();
    await refused('LAYER_CACHE_FULL', () => save(0x74, new Set([k1.id, k3.id])), /layers live instances were started from take/);
    assert.deepEqual(readdirSync(join(layersDir, carol.id)).sort(), files, 'nothing kept, nothing removed');
    const tiny = new InstanceLayers({ store: layerStore, volumes, disks, dir: layersDir, capBytes: 1000, clock });
    await refused('LAYER_CACHE_FULL', async () => tiny.freeze(carol, key(), (await writtenDisk(o, 'write -P 0x75 1M 1M', carol)).uuid, paused, NONE), /larger than the whole cache/);
    assert.deepEqual(readdirSync(join(layersDir, carol.id)).sort(), files);
    await refused('LAYER_IN_USE', () => small.remove(carol, k1.key, new Set([k1.id])));
  });

  it('a freeze that fails leaves no file and no row', async () => {
    const o = await base;
    const disk = await writtenDisk(o, 'write -P 0x81 1M 1M');
    const rows = (await layerStore.all()).length;
    const files = readdirSync(join(layersDir, ALICE.id)).sort();
    await assert.rejects(layers.freeze(ALICE, key(), disk.uuid, () => Promise.reject(new Error('QMP went away')), NONE), /QMP went away/);
    const failing = <T>(work: () => Promise<T>): Promise<T> => work().then(() => { throw new Error('cont failed'); });
    await assert.rejects(layers.freeze(ALICE, key(), disk.uuid, failing, NONE), /cont failed/);
    assert.equal((await layerStore.all()).length, rows);
    assert.deepEqual(readdirSync(join(layersDir, ALICE.id)).sort(), files);
  });

  it('after a crash, reconcile removes unfinished and unrecorded files and rows without a file; a deleted origin takes its layers with it', async () => {
    const o = await base;
    const gone = await origin();
    const keep = await layers.freeze(ALICE, key(), (await writtenDisk(o, 'write -P 0x91 1M 64k')).uuid, paused, NONE);
    const overGone = await layers.freeze(ALICE, key(), (await writtenDisk(gone, 'write -P 0x92 1M 64k')).uuid, paused, NONE);
    const lost = await layers.freeze(ALICE, key(), (await writtenDisk(o, 'write -P 0x93 1M 64k')).uuid, paused, NONE);
    const folder = join(layersDir, ALICE.id);
    writeFileSync(join(folder, `${randomUUID()}.tmp`), 'half a layer');
    writeFileSync(join(folder, `${randomUUID()}.qcow2`), 'a layer whose row never went in');
    mkdirSync(join(layersDir, randomUUID()));
    writeFileSync(join(layersDir, `${randomUUID()}`, '..', 'stray'), 'x');
    execFileSync('rm', [fileOf(lost)]);
    // The pdisk user deletes the origin: alice's instance disks over it keep it (marked deleted), her layer cannot run any more.
    for (const uuid of await volumes.remove(gone.uuid, new Date().toISOString())) await driver.delete(uuid);
    assert.equal(await layers.get(ALICE, overGone.key), undefined, 'a layer over a deleted origin is not offered');
    const result = await layers.reconcile();
    assert.deepEqual(result, { temporary: 1, orphans: 1, missing: 1, stale: 1 });
    assert.deepEqual((await layerStore.all()).filter((r) => [keep.id, overGone.id, lost.id].includes(r.id)).map((r) => r.id), [keep.id]);
    tool('qemu-img', ['check', '-q', fileOf(keep)]);
    assert.equal(existsSync(fileOf(overGone)), false);
    assert.deepEqual(readdirSync(folder).filter((f) => f.endsWith('.tmp')), []);
  });
});

/** A new instance disk of `who` over `o`, written with `commands`. */
async function writtenDisk(o: VolumeRow, command: string, who: Principal = ALICE): Promise<VolumeRow> {
  const disk = await disks.liveCopy(who, o, 'the test image');
  write(disk, command);
  return disk;
}
