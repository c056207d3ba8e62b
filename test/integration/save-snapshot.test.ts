/**
 * The one-pass save of §2.4 (volumes/instance-disks.ts saveSnapshot): an instance's qcow2
 * overlay over a real raw origin, both made and written with qemu-img/qemu-io, becomes a new
 * volume whose bytes, four checksums and identifier are checked against `qemu-img convert -O
 * raw` and the coreutils sums computed independently; and a failure at any point leaves no
 * volume, no row and no temporary file, with the overlay untouched.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isStratusError } from '../../src/domain/errors.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import type { Principal } from '../../src/accounts/accounts.js';
import { openSqlite } from '../../src/storage/database.js';
import { UserStore } from '../../src/storage/users.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import { createFileVolumeDriver } from '../../src/storage/volumes/file-driver.js';
import { InstanceDisks } from '../../src/volumes/instance-disks.js';
import { VolumeService } from '../../src/volumes/service.js';
import { openRawChain } from '../../src/platform/raw-reader.js';
import { tempDir } from '../helpers/tmp.js';
import { rawDiskFile } from '../helpers/raw-disk.js';

const MIB = 1024 * 1024;
const ALICE: Principal = { id: randomUUID(), username: 'alice', admin: false };
const ADMIN: Principal = { id: randomUUID(), username: 'admin', admin: true };
const unlimited = { quotaOf: async () => ({ gib: null, volumes: null }) };

const dir = tempDir('stratus-save-');
const database = await openSqlite(join(dir, 'stratus.db'));
after(() => database.close());
for (const p of [ALICE, ADMIN]) {
  await new UserStore(database).insert({ id: p.id, username: p.username, password_hash: 'unused', is_admin: p.admin ? 1 : 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z' });
}
const driver = createFileVolumeDriver(join(dir, 'volumes'), { durable: false });
const store = new VolumeStore(database);
const disks = new InstanceDisks(store, driver, unlimited, 'admin');
const volumes = new VolumeService(store, driver, unlimited);

const tool = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', cwd: dir });
const sum = (cmd: string, path: string): string => (tool(cmd, [path]).split(' ')[0] as string);

/** A 64 MiB raw image with data at 0, 10 MiB and its very end. */
function rawOrigin(name: string): string {
  return rawDiskFile(join(dir, name));
}

/** What the guest would do: new data, a partial cluster over the origin's data, zeros over the origin's data. */
function writeAsGuest(overlay: string): void {
  for (const cmd of ['write -P 0x5a 20M 3M', 'write -P 0x11 10485000 70000', 'write -z 12M 1M', 'write -P 0x22 63M 4096']) {
    tool('qemu-io', ['-f', 'qcow2', '-c', cmd, overlay]);
  }
}

/** bytes and the four sums of the overlay's raw content, by qemu-img convert and coreutils. */
function independently(overlay: string): { bytes: number; md5: string; sha1: string; sha256: string; sha512: string } {
  const flat = join(dir, `check-${randomUUID()}.raw`);
  tool('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', overlay, flat]);
  try {
    return { bytes: statSync(flat).size, md5: sum('md5sum', flat), sha1: sum('sha1sum', flat), sha256: sum('sha256sum', flat), sha512: sum('sha512sum', flat) };
  } finally {
    tool('rm', ['-f', flat]);
  }
}

async function snapshotOf(originFile: string, format: 'raw' | 'qcow2'): Promise<{ origin: string; snapshot: string; overlay: string }> {
  const origin = await disks.addOrigin(originFile, { identifier: identifierFromSha1(randomBytes(20)), format });
  const snapshot = await disks.liveCopy(ALICE, origin, 'the test image');
  const overlay = disks.locate(snapshot.uuid).path;
  writeAsGuest(overlay);
  return { origin: origin.uuid, snapshot: snapshot.uuid, overlay };
}

async function stored(): Promise<{ rows: string[]; files: string[]; temporary: string[] }> {
  const { volumes: files, temporary } = await driver.inventory();
  return { rows: (await store.allUuids()).sort(), files: files.sort(), temporary };
}

describe('saving an instance\'s snapshot as a new image, in one pass', () => {
  it('saved_image_format = raw: bytes, MD5, SHA-1, SHA-256, SHA-512 and the identifier are those of the raw disk, as qemu-img convert and the coreutils sums give them', async () => {
    const { snapshot, overlay } = await snapshotOf(rawOrigin('origin.raw'), 'raw');
    const expected = independently(overlay);
    const overlayBefore = readFileSync(overlay);
    const direct = await openRawChain(overlay);
    assert.ok(direct, 'read straight from the overlay and its origin, with no temporary copy');
    direct.destroy();
    const { volume, content } = await disks.saveSnapshot(snapshot, { username: ALICE.username, id: ALICE.id }, { tag: 'ttylinux with a web page, saved by the integration test', format: 'raw' });
    assert.deepEqual({ bytes: content.bytes, ...content.digests }, expected);
    assert.equal(volume.identifier, identifierFromSha1(expected.sha1));
    assert.deepEqual([volume.owner, volume.type, volume.visibility, volume.format, volume.origin, volume.bytes, volume.tag],
      ['alice', 'MACHINE_IMAGE_ORIGIN', 'PRIVATE', 'raw', null, expected.bytes, 'ttylinux with a web page, saved by the i']);
    const file = disks.locate(volume.uuid);
    assert.equal(file.format, 'raw');
    assert.equal(sum('sha512sum', file.path), expected.sha512, 'the stored volume holds the hashed bytes');
    // Written sparse: the holes of a 64 MiB disk with ~8 MiB of data take no room.
    assert.ok(statSync(file.path).blocks * 512 < 24 * MIB, `${statSync(file.path).blocks * 512} bytes allocated`);
    assert.ok(readFileSync(overlay).equals(overlayBefore), 'the overlay is left as it was');
    assert.deepEqual((await stored()).temporary, []);
    // It is an image now: it boots through its own snapshots, as any origin.
    const again = await disks.liveCopy(ALICE, volume, volume.uuid);
    assert.equal(again.origin, volume.uuid);
  });

  it('by default a standalone qcow2 of the stored clusters: it reads as the disk, qemu-img check passes, and bytes, the four sums and the identifier are the file\'s, as coreutils gives them', async () => {
    const { snapshot, overlay } = await snapshotOf(rawOrigin('origin-qcow2.raw'), 'raw');
    const overlayBefore = readFileSync(overlay);
    const { volume, content } = await disks.saveSnapshot(snapshot, { username: ALICE.username, id: ALICE.id }, { tag: 'saved as qcow2' });
    const file = disks.locate(volume.uuid);
    assert.equal(file.format, 'qcow2');
    const expected = { bytes: statSync(file.path).size, md5: sum('md5sum', file.path), sha1: sum('sha1sum', file.path), sha256: sum('sha256sum', file.path), sha512: sum('sha512sum', file.path) };
    assert.deepEqual({ bytes: content.bytes, ...content.digests }, expected);
    assert.equal(volume.identifier, identifierFromSha1(expected.sha1));
    assert.deepEqual([volume.format, volume.bytes, volume.size_gib], ['qcow2', expected.bytes, 1]);
    tool('qemu-img', ['check', '-f', 'qcow2', file.path]);
    tool('qemu-img', ['compare', '-f', 'qcow2', '-F', 'qcow2', overlay, file.path]);
    const info = JSON.parse(tool('qemu-img', ['info', '--output=json', file.path])) as { 'virtual-size': number; 'backing-filename'?: string };
    assert.deepEqual([info['virtual-size'], info['backing-filename']], [64 * MIB, undefined]);
    assert.ok(expected.bytes < 16 * MIB, `only the stored clusters: ${expected.bytes} bytes`);
    assert.ok(readFileSync(overlay).equals(overlayBefore), 'the overlay is left as it was');
    assert.deepEqual((await stored()).temporary, []);
    assert.deepEqual(readdirSync(disks.scratchDir).filter((f) => f.endsWith('.save.qcow2')), [], 'nothing left in the scratch folder');
    const again = await disks.liveCopy(ALICE, volume, volume.uuid);
    assert.equal(again.origin, volume.uuid);
  });

  it('an origin whose clusters are compressed (no offsets in its map) is read through qemu-img convert, with the same result', async () => {
    const raw = rawOrigin('for-compressed.raw');
    const compressed = join(dir, 'compressed.qcow2');
    tool('qemu-img', ['convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', raw, compressed]);
    const { snapshot, overlay } = await snapshotOf(compressed, 'qcow2');
    const expected = independently(overlay);
    assert.equal(await openRawChain(overlay), undefined, 'compressed clusters have no offset to read at');
    const { content } = await disks.saveSnapshot(snapshot, { username: ALICE.username, id: ALICE.id }, { tag: 'compressed' });
    assert.deepEqual({ bytes: content.bytes, ...content.digests }, expected);
    assert.deepEqual((await stored()).temporary, []);
  });

  for (const format of ['raw', 'qcow2'] as const) {
    it(`${format}: a failure midway (after 2 MiB were written) leaves no volume, no row and no temporary file, and the overlay as it was`, async () => {
      const { snapshot, overlay } = await snapshotOf(rawOrigin(`midway-${format}.raw`), 'raw');
      const before = await stored();
      const overlayBefore = readFileSync(overlay);
      await assert.rejects(disks.saveSnapshot(snapshot, { username: ALICE.username, id: ALICE.id }, {
        tag: 'never', format, onProgress: (bytes) => { if (bytes > 2 * MIB) throw new Error('the disk went away'); },
      }), /the disk went away/);
      assert.deepEqual(await stored(), before);
      assert.ok(readFileSync(overlay).equals(overlayBefore));
      assert.deepEqual(readdirSync(disks.scratchDir).filter((f) => f.endsWith('.save.qcow2')), []);
    });
  }

  it('a refused record (the owner holds this image already) removes the copied bytes: nothing half-made stays', async () => {
    const { snapshot } = await snapshotOf(rawOrigin('twice.raw'), 'raw');
    await disks.saveSnapshot(snapshot, { username: ALICE.username, id: ALICE.id }, { tag: 'first' });
    const before = await stored();
    await assert.rejects(disks.saveSnapshot(snapshot, { username: ALICE.username, id: ALICE.id }, { tag: 'second' }), (e) => isStratusError(e, 'VOLUME_DUPLICATE'));
    assert.deepEqual(await stored(), before);
  });

  it('only a copy-on-write snapshot of an image is saved: an origin or a data volume is refused with the reason', async () => {
    const origin = await disks.addOrigin(rawOrigin('not-a-snapshot.raw'), { identifier: identifierFromSha1(randomBytes(20)), format: 'raw' });
    const data = await volumes.create(ALICE, { size: 1 });
    for (const uuid of [origin.uuid, data.uuid]) {
      await assert.rejects(disks.saveSnapshot(uuid, { username: ALICE.username, id: ALICE.id }, { tag: 'x' }),
        (e) => isStratusError(e, 'VOLUME_STATE') && /is not a copy-on-write snapshot of an image/.test(e.message));
    }
  });

  it('pdisk\'s rebase (POST /disks/<live uuid>) gives the same identifier through the same one-pass copy', async () => {
    const { snapshot, overlay } = await snapshotOf(rawOrigin('rebase.raw'), 'raw');
    const rebased = await volumes.copy(ALICE, snapshot);
    assert.equal(rebased.identifier, identifierFromSha1(independently(overlay).sha1));
    assert.equal(ADMIN.admin, true);
  });
});
