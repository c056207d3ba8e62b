/**
 * create-image benchmark (issue 10).
 *  save: the Epilog's save of a 2 GiB debian-12 disk (InstanceDisks.saveSnapshot, the code the
 *    Epilog runs: a standalone qcow2 of the clusters the disk stores, its size and all four
 *    checksums in one pass, synced to disk)
 *    against `qemu-img convert -O raw` of the same overlay followed by `sha1sum` of the result
 *    (one checksum only), interleaved. Target: ratio ≤ 0.7. Each saved image is checked
 *    (untimed) with qemu-img compare against the overlay. The overlay is a copy-on-write
 *    snapshot of the debian-12 base with 200 MiB written into it, as a guest's changes.
 *  e2e: see bench/create-image-e2e.ts.
 * Run: npm run bench create-image   (STRATUS_BENCH_RUNS rounds, default 5)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../src/images/builder.js';
import { loadRecipe } from '../src/images/recipe.js';
import { openSqlite } from '../src/storage/database.js';
import { UserStore } from '../src/storage/users.js';
import { VolumeStore } from '../src/storage/volumes/store.js';
import { createFileVolumeDriver } from '../src/storage/volumes/file-driver.js';
import { InstanceDisks } from '../src/volumes/instance-disks.js';
import { repoRoot } from '../test/helpers/paths.js';
import { benchRuns, interleave, method, ratioSpread, report, spread } from './lib.js';

const runs = benchRuns();
const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-save-'));
try {
  const base = await buildImage(loadRecipe(join(repoRoot, 'recipes'), 'debian-12'));
  const database = await openSqlite(join(dir, 'stratus.db'));
  const alice = { id: randomUUID(), username: 'alice' };
  await new UserStore(database).insert({ id: alice.id, username: 'alice', password_hash: 'unused', is_admin: 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z' });
  const driver = createFileVolumeDriver(join(dir, 'volumes'), { durable: true });
  const disks = new InstanceDisks(new VolumeStore(database), driver, { quotaOf: async () => ({ gib: null, volumes: null }) }, 'admin');
  const copy = join(dir, 'base.raw');
  // Sparse, as the image cache stores origins.
  execFileSync('cp', ['--sparse=always', base.path, copy]);
  const origin = await disks.addOrigin(copy, { identifier: base.identifier, format: 'raw' });
  const snapshot = await disks.liveCopy({ ...alice, admin: false }, origin, 'bench');
  const overlay = disks.locate(snapshot.uuid).path;
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 100M 200M', overlay], { stdio: 'ignore' });

  let savedBytes = 0;
  const ours = async (): Promise<number> => {
    const target = randomUUID();
    const t0 = process.hrtime.bigint();
    const { volume } = await disks.saveSnapshot(snapshot.uuid, alice, { tag: 'bench', target });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    // Untimed: the saved image reads as the overlay, byte for byte.
    execFileSync('qemu-img', ['compare', '-q', '-f', 'qcow2', '-F', volume.format, overlay, disks.locate(target).path]);
    savedBytes = volume.bytes ?? 0;
    await disks.dropSaved(target);
    return secs;
  };
  const anchor = (): number => {
    const out = join(dir, 'anchor.raw');
    const t0 = process.hrtime.bigint();
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', overlay, out]);
    const r = spawnSync('sha1sum', [out], { encoding: 'utf8' });
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`sha1sum failed: ${r.stderr}`);
    rmSync(out);
    return secs;
  };
  const r = await interleave(runs, ours, anchor);
  report('Epilog save of a 2 GiB debian-12 disk (200 MiB written over the base)', [
    ['ours: saveSnapshot (a standalone qcow2 of the stored clusters + bytes + MD5, SHA-1, SHA-256, SHA-512, one pass, fsync)', spread(r.ours)],
    ['saved image', `${(savedBytes / 2 ** 20).toFixed(0)} MiB qcow2 (the raw disk: ${(statSync(base.path).size / 2 ** 20).toFixed(0)} MiB)`],
    ['anchor: qemu-img convert -O raw, then sha1sum', spread(r.anchor)],
    ['ratio ours/anchor (target ≤ 0.7)', ratioSpread(r.ratios)],
    ['method', method(runs)],
  ]);
  await database.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
