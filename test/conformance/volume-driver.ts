import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { isStratusError } from '../../src/domain/errors.js';
import { run } from '../../src/platform/run.js';
import type { VolumeDriver } from '../../src/storage/volumes/driver.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

/** Deterministic incompressible bytes (AES-CTR of zeros), different for each seed. */
export function pseudoRandom(length: number, seed = 0): Buffer {
  const key = createHash('sha256').update(`stratus-volume-conformance-${seed}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

/**
 * A small image shaped like a real one: data, a long zero run that must become a hole, more
 * data, and a tail that is not a multiple of any block size.
 */
function sampleImage(seed: number): Buffer {
  return Buffer.concat([pseudoRandom(256 * KIB, seed), Buffer.alloc(768 * KIB), pseudoRandom(256 * KIB + 100, seed + 1)]);
}

/**
 * A disk-shaped image (a whole number of 512-byte sectors) for snapshots: qcow2 sizes are
 * sector multiples, so an overlay of an odd-sized raw file reads with zero padding.
 */
function sectorImage(seed: number): Buffer {
  return Buffer.concat([pseudoRandom(256 * KIB, seed), Buffer.alloc(768 * KIB), pseudoRandom(256 * KIB, seed + 1)]);
}

function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}

async function readAll(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Feeds `data` to a writable in uneven chunks (so no write lines up with a block). */
async function feed(data: Buffer, into: Writable, chunk = 10_007): Promise<void> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  await pipeline(Readable.from(parts), into);
}

/** Stores `content` under `uuid` through the upload path; keeps `gz` as the compressed copy when given. */
async function put(driver: VolumeDriver, uuid: string, content: Buffer, gz?: Buffer): Promise<void> {
  const up = await driver.beginUpload(uuid, gz !== undefined);
  try {
    if (gz !== undefined) {
      assert.ok(up.compressed, 'beginUpload(uuid, true) gives a compressed stream');
      await feed(gz, up.compressed);
    } else {
      assert.equal(up.compressed, undefined, 'beginUpload(uuid, false) gives no compressed stream');
    }
    await feed(content, up.content);
    const { bytes } = await up.commit();
    assert.equal(bytes, content.length, 'commit() reports the raw byte count');
  } catch (e) {
    await up.abort();
    throw e;
  }
}

/** Bytes allocated on disk for a local file, or undefined when the driver's path is not one. */
function allocated(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  return statSync(path).blocks * 512;
}

/** Writes a pattern into a volume in place, the way a running machine would (qemu-io). */
async function writeInPlace(driver: VolumeDriver, uuid: string, pattern: number, offset: number, length: number): Promise<void> {
  const loc = driver.locate(uuid);
  await run('qemu-io', ['-f', loc.format, '-c', `write -P 0x${pattern.toString(16)} ${offset} ${length}`, loc.path]);
}

const notFound = (e: unknown): boolean => isStratusError(e, 'VOLUME_NOT_FOUND');

/**
 * The volume driver port's conformance suite (driver.ts). Every driver (files today; LVM,
 * Ceph RBD or S3 later) runs it with a fresh, empty store per test, so that the service can
 * rely on the same behaviour whatever holds the bytes. Needs qemu-img and qemu-io.
 */
export function volumeDriverConformance(name: string, makeDriver: () => VolumeDriver): void {
  test(`${name}: createEmpty makes a sparse volume of the requested size, in constant time`, async () => {
    const driver = makeDriver();
    const small = randomUUID();
    const big = randomUUID();
    await driver.createEmpty(small, 1 * MIB);
    const t0 = performance.now();
    await driver.createEmpty(big, 100 * GIB);
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `a 100 GiB empty volume took ${ms.toFixed(0)} ms`);
    assert.equal(await driver.size(small), 1 * MIB);
    assert.equal(await driver.size(big), 100 * GIB);
    assert.equal(await driver.exists(big), true);
    assert.equal(driver.locate(big).format, 'raw');
    const used = allocated(driver.locate(big).path);
    if (used !== undefined) assert.ok(used < 1 * MIB, `100 GiB of zeros take ${used} bytes on disk`);
    assert.deepEqual(await readAll(await driver.openRaw(small)), Buffer.alloc(1 * MIB), 'an empty volume reads as zeros');
    const inv = await driver.inventory();
    assert.deepEqual([...inv.volumes].sort(), [small, big].sort());
    assert.deepEqual(inv.temporary, []);
  });

  test(`${name}: beginUpload + commit makes the content readable, sparse, and keeps the gzip copy when asked`, async () => {
    const driver = makeDriver();
    const content = sampleImage(1);
    const gz = gzipSync(content, { level: 6 });
    const uuid = randomUUID();

    const up = await driver.beginUpload(uuid, true);
    assert.ok(up.compressed);
    await feed(gz, up.compressed);
    await feed(content, up.content);
    assert.equal(await driver.exists(uuid), false, 'nothing is visible before commit');
    assert.ok(!(await driver.inventory()).volumes.includes(uuid), 'an uncommitted upload is not a volume');
    assert.deepEqual(await up.commit(), { bytes: content.length });

    assert.equal(await driver.exists(uuid), true);
    assert.equal(await driver.size(uuid), content.length);
    assert.deepEqual(driver.locate(uuid).format, 'raw');
    assert.equal(sha1(await readAll(await driver.openRaw(uuid))), sha1(content));
    const used = allocated(driver.locate(uuid).path);
    if (used !== undefined) assert.ok(used <= content.length - 512 * KIB, `the 768 KiB zero run is a hole (${used} bytes allocated for ${content.length})`);
    const g = await driver.gzipped(uuid);
    assert.equal(g.size, gz.length, 'the kept gzip copy is served as uploaded');
    assert.ok((await readAll(g.open())).equals(gz));

    // Without a kept copy, the gzip is made on demand and inflates to the content.
    const other = randomUUID();
    const trailing = Buffer.concat([pseudoRandom(64 * KIB, 7), Buffer.alloc(1 * MIB)]);
    await put(driver, other, trailing);
    assert.equal(await driver.size(other), trailing.length, 'trailing zeros count in the size');
    assert.ok((await readAll(await driver.openRaw(other))).equals(trailing));
    const made = await driver.gzipped(other);
    const madeBytes = await readAll(made.open());
    assert.equal(madeBytes.length, made.size);
    assert.ok(gunzipSync(madeBytes).equals(trailing));
    const again = await driver.gzipped(other);
    assert.ok((await readAll(again.open())).equals(madeBytes), 'an unchanged volume serves the same gzip');

    const inv = await driver.inventory();
    assert.deepEqual([...inv.volumes].sort(), [uuid, other].sort());
    assert.deepEqual(inv.temporary, [], 'commit leaves no temporary file');
  });

  test(`${name}: abort leaves nothing behind`, async () => {
    const driver = makeDriver();
    const uuid = randomUUID();
    const content = sampleImage(2);
    const up = await driver.beginUpload(uuid, true);
    assert.ok(up.compressed);
    up.compressed.write(gzipSync(content).subarray(0, 1000));
    await feed(content.subarray(0, 300 * KIB), up.content).catch(() => undefined);
    await up.abort();
    assert.equal(await driver.exists(uuid), false);
    const inv = await driver.inventory();
    assert.deepEqual(inv.volumes, []);
    assert.deepEqual(inv.temporary, []);
    await assert.rejects(driver.openRaw(uuid), notFound);
    await assert.rejects(driver.gzipped(uuid), notFound);

    // Abort in the middle of writing, with the content stream still open.
    const half = randomUUID();
    const up2 = await driver.beginUpload(half, false);
    up2.content.write(pseudoRandom(200 * KIB, 3));
    await up2.abort();
    assert.equal(await driver.exists(half), false);
    assert.deepEqual(await driver.inventory(), { volumes: [], temporary: [] });
  });

  test(`${name}: importImage moves a verified file in (sparse, same content), leaves nothing in the scratch dir, and a missing file adds no volume`, async () => {
    const driver = makeDriver();
    const content = sectorImage(9);
    mkdirSync(driver.scratchDir, { recursive: true });
    const file = `${driver.scratchDir}/import-${randomUUID()}.img`;
    writeFileSync(file, content);
    const uuid = randomUUID();
    assert.deepEqual(await driver.importImage(uuid, file, 'raw'), { bytes: content.length });
    assert.equal(existsSync(file), false, 'the downloaded file was moved, not copied');
    assert.equal(sha1(await readAll(await driver.openRaw(uuid))), sha1(content));
    assert.deepEqual(readdirSync(driver.scratchDir), []);
    const absent = randomUUID();
    await assert.rejects(driver.importImage(absent, `${driver.scratchDir}/no-such-file`, 'raw'));
    assert.equal(await driver.exists(absent), false);
    assert.deepEqual((await driver.inventory()).temporary, []);
  });

  test(`${name}: a qcow2 image is imported as qcow2, and its snapshot reads through it with backing format qcow2`, async () => {
    const driver = makeDriver();
    const content = sectorImage(11);
    mkdirSync(driver.scratchDir, { recursive: true });
    const plain = `${driver.scratchDir}/plain-${randomUUID()}.img`;
    const file = `${driver.scratchDir}/import-${randomUUID()}.qcow2`;
    writeFileSync(plain, content);
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', plain, file]);
    const origin = randomUUID();
    await driver.importImage(origin, file, 'qcow2');
    assert.equal(driver.locate(origin).format, 'qcow2');
    assert.equal(await driver.size(origin), content.length);
    const snap = randomUUID();
    await driver.snapshot(origin, snap);
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-U', driver.locate(snap).path])).stdout) as Record<string, unknown>;
    assert.equal(info['backing-filename-format'], 'qcow2');
    assert.equal(await driver.size(snap), content.length);
    assert.equal(sha1(await readAll(await driver.openRaw(snap))), sha1(content), 'the snapshot reads the image, not its qcow2 bytes');
  });

  test(`${name}: snapshot is a constant-time copy-on-write overlay; writes leave the origin alone; flatten gives the snapshot's content`, async () => {
    const driver = makeDriver();
    const origin = randomUUID();
    const content = sectorImage(4);
    const originSha1 = sha1(content);
    await put(driver, origin, content, gzipSync(content));

    const snap = randomUUID();
    await driver.snapshot(origin, snap);
    assert.equal(driver.locate(snap).format, 'qcow2');
    assert.equal(await driver.size(snap), content.length, 'the snapshot has the size of its origin');
    assert.equal(sha1(await readAll(await driver.openRaw(snap))), originSha1, 'a fresh snapshot reads as its origin');
    const overlay = allocated(driver.locate(snap).path);
    if (overlay !== undefined) assert.ok(overlay < 512 * KIB, `a fresh overlay holds no data (${overlay} bytes)`);

    // Constant time: a 10 GiB origin snapshots as fast as a 1 MiB one (within a generous bound).
    const bigOrigin = randomUUID();
    await driver.createEmpty(bigOrigin, 10 * GIB);
    const t0 = performance.now();
    const bigSnap = randomUUID();
    await driver.snapshot(bigOrigin, bigSnap);
    const ms = performance.now() - t0;
    assert.ok(ms < 2000, `snapshot of 10 GiB took ${ms.toFixed(0)} ms`);
    assert.equal(await driver.size(bigSnap), 10 * GIB);

    // Gzip of the snapshot, before and after a write: the cached copy must be remade.
    const before = await driver.gzipped(snap);
    assert.equal(sha1(gunzipSync(await readAll(before.open()))), originSha1);

    await writeInPlace(driver, snap, 0x55, 0, 64 * KIB);
    await writeInPlace(driver, snap, 0xaa, 512 * KIB, 64 * KIB); // inside the origin's hole
    const expected = Buffer.from(content);
    expected.fill(0x55, 0, 64 * KIB);
    expected.fill(0xaa, 512 * KIB, 576 * KIB);

    assert.equal(sha1(await readAll(await driver.openRaw(origin))), originSha1, 'writing to the snapshot leaves the origin unchanged');
    assert.equal(sha1(gunzipSync(await readAll((await driver.gzipped(origin)).open()))), originSha1, "the origin's gzip is unchanged");
    assert.equal(sha1(await readAll(await driver.openRaw(snap))), sha1(expected), 'the snapshot reads its own writes');
    const after = await driver.gzipped(snap);
    assert.equal(sha1(gunzipSync(await readAll(after.open()))), sha1(expected), "the snapshot's gzip is remade after its content changed");

    const flat = randomUUID();
    assert.deepEqual(await driver.flatten(snap, flat), { bytes: expected.length });
    assert.equal(driver.locate(flat).format, 'raw');
    assert.equal(await driver.size(flat), expected.length);
    assert.equal(sha1(await readAll(await driver.openRaw(flat))), sha1(expected));

    // The flattened copy stands alone.
    await driver.delete(snap);
    await driver.delete(bigSnap);
    await driver.delete(origin);
    assert.equal(sha1(await readAll(await driver.openRaw(flat))), sha1(expected), 'a flattened copy does not need its origin');
    const inv = await driver.inventory();
    assert.deepEqual([...inv.volumes].sort(), [bigOrigin, flat].sort());
    assert.deepEqual(inv.temporary, [], 'snapshots, gzip and flatten leave no temporary file');
  });

  test(`${name}: a snapshot given a delta (a qcow2 over the origin, kept elsewhere) starts with its clusters, reads through the origin, and leaves the delta as it was`, async () => {
    const driver = makeDriver();
    const origin = randomUUID();
    const content = sectorImage(7);
    await put(driver, origin, content);
    const scratch = mkdtempSync(join(tmpdir(), 'stratus-delta-'));
    try {
      const delta = join(scratch, 'delta.qcow2');
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', driver.locate(origin).format, '-b', driver.locate(origin).path, delta, String(content.length)]);
      await run('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x66 ${128 * KIB} ${64 * KIB}`, delta]);
      const deltaBytes = readFileSync(delta);
      const expected = Buffer.from(content);
      expected.fill(0x66, 128 * KIB, 192 * KIB);
      const snap = randomUUID();
      await driver.snapshot(origin, snap, delta);
      assert.equal(sha1(await readAll(await driver.openRaw(snap))), sha1(expected), 'the snapshot starts as the delta');
      await writeInPlace(driver, snap, 0x77, 0, 64 * KIB);
      expected.fill(0x77, 0, 64 * KIB);
      assert.equal(sha1(await readAll(await driver.openRaw(snap))), sha1(expected), 'and then reads its own writes');
      assert.ok(readFileSync(delta).equals(deltaBytes), 'the delta is not written');
      assert.equal(sha1(await readAll(await driver.openRaw(origin))), sha1(content), 'nor the origin');

      const other = join(scratch, 'other.qcow2');
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', other, String(2 * content.length)]);
      const refused = randomUUID();
      await assert.rejects(driver.snapshot(origin, refused, other), (e: unknown) => isStratusError(e, 'VOLUME_STATE'));
      assert.equal(await driver.exists(refused), false);
      assert.deepEqual((await driver.inventory()).temporary, [], 'a refused delta leaves no temporary file');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  test(`${name}: gzipped() serves byte ranges`, async () => {
    const driver = makeDriver();
    const uuid = randomUUID();
    const content = sampleImage(5);
    await put(driver, uuid, content);
    const g = await driver.gzipped(uuid);
    const whole = await readAll(g.open());
    assert.equal(whole.length, g.size);
    assert.ok(gunzipSync(whole).equals(content));
    assert.ok((await readAll(g.open(0))).equals(whole));
    assert.ok((await readAll(g.open(10, 99))).equals(whole.subarray(10, 100)), 'end is inclusive, as in HTTP ranges');
    assert.ok((await readAll(g.open(g.size - 7))).equals(whole.subarray(g.size - 7)), 'an open end runs to the last byte');
    assert.ok((await readAll(g.open(g.size - 1, g.size - 1))).equals(whole.subarray(g.size - 1)), 'a one-byte range');
    // Resuming: the head and the rest join into the whole.
    const cut = Math.floor(g.size / 3);
    assert.ok(Buffer.concat([await readAll(g.open(0, cut - 1)), await readAll(g.open(cut))]).equals(whole));
  });

  test(`${name}: delete removes the content, the gzip copy and the snapshot overlay`, async () => {
    const driver = makeDriver();
    const origin = randomUUID();
    const content = sectorImage(6);
    await put(driver, origin, content, gzipSync(content));
    const snap = randomUUID();
    await driver.snapshot(origin, snap);
    await driver.gzipped(snap);
    const empty = randomUUID();
    await driver.createEmpty(empty, 2 * MIB);
    await driver.gzipped(empty);

    for (const uuid of [snap, origin, empty]) {
      await driver.delete(uuid);
      assert.equal(await driver.exists(uuid), false, `${uuid} is gone`);
      await assert.rejects(driver.openRaw(uuid), notFound);
      await assert.rejects(driver.gzipped(uuid), notFound);
      await assert.rejects(driver.size(uuid), notFound);
    }
    assert.deepEqual(await driver.inventory(), { volumes: [], temporary: [] });
    await driver.delete(randomUUID()); // deleting what is not there is not an error
  });

  test(`${name}: sweep removes the temporary files of an interrupted upload`, async () => {
    const driver = makeDriver();
    const kept = randomUUID();
    await put(driver, kept, sampleImage(8));
    const crashed = randomUUID();
    const up = await driver.beginUpload(crashed, true);
    assert.ok(up.compressed);
    up.compressed.write(Buffer.alloc(4096, 1));
    await new Promise<void>((resolve, reject) => up.content.write(pseudoRandom(256 * KIB, 9), (e) => (e ? reject(e) : resolve())));
    assert.ok((await driver.inventory()).temporary.length > 0, 'an upload in progress has temporary files');
    // A driver opened on the same store after a crash finds them; so does this one.
    assert.ok((await driver.sweep()) > 0);
    assert.deepEqual((await driver.inventory()).temporary, []);
    assert.deepEqual((await driver.inventory()).volumes, [kept], 'sweep keeps committed volumes');
    assert.equal(await driver.exists(crashed), false);
    await up.abort();
    assert.equal(await driver.sweep(), 0);
    assert.ok((await readAll(await driver.openRaw(kept))).equals(sampleImage(8)));
  });
}
