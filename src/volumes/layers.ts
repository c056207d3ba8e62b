import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { run } from '../platform/run.js';
import type { Principal } from '../accounts/accounts.js';
import type { LayerRow, LayerStore } from '../storage/layers.js';
import type { VolumeRow, VolumeStore } from '../storage/volumes/store.js';
import type { InstanceDisks } from './instance-disks.js';
import { Turns } from '../platform/turns.js';

/** `[instances] layer_cache_mib`'s default: what one account's layers may take. */
export const DEFAULT_LAYER_CACHE_MIB = 20480;

const KEY = /^[0-9a-f]{64}$/;

/** A layer key as the API takes it: 64 lowercase hex digits, so it can never name a path. */
export function requireLayerKey(key: unknown): string {
  if (typeof key === 'string' && KEY.test(key)) return key;
  const shown = typeof key === 'string' ? JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key) : typeof key;
  throw new StratusError('LAYER_INVALID', `layer key ${shown} is not 64 lowercase hexadecimal digits`);
}

/** Who a layer belongs to: the account's id decides, the name is for the operator. */
export type LayerOwner = Pick<Principal, 'id' | 'username'>;

export interface InstanceLayersOptions {
  store: LayerStore;
  volumes: VolumeStore;
  disks: InstanceDisks;
  /** `<data-dir>/layers`: one folder per account id, one `<id>.qcow2` per layer. */
  dir: string;
  /** What one account's layers may take together, in bytes. */
  capBytes: number;
  clock?: () => Date;
}

/**
 * The instance layer cache (the step cache of stratus-create-image): an instance's root disk
 * frozen as a qcow2 delta over the origin volume it was made from, kept per account under a
 * key the client chooses, from which later instances of the same origin start.
 *
 * An instance never runs on a layer file: its disk is a copy of the layer, rebased onto the
 * origin (InstanceDisks.liveCopy with a delta), so every instance disk is still one overlay over
 * its origin (the --save Epilog, pdisk's rebase and the quarantine see nothing new), a layer is
 * replaced or removed whatever runs, and deleting one layer never breaks another.
 *
 * Files are written beside their final name and renamed in before the row goes in (a crash
 * leaves at most a file without a row, which reconcile() removes). Changes of one account run
 * one at a time in this process.
 */
export class InstanceLayers {
  private readonly turns = new Turns();

  constructor(private readonly o: InstanceLayersOptions) {}

  /** `owner`'s layer of `key` if it can be run: its origin is still there, and so is its file. */
  async get(owner: LayerOwner, key: string): Promise<LayerRow | undefined> {
    const row = await this.o.store.get(owner.id, requireLayerKey(key));
    if (!row || !(await this.o.volumes.get(row.origin))) return undefined;
    return (await exists(this.fileOf(row))) ? row : undefined;
  }

  /** `owner`'s layer of `key`, or LAYER_NOT_FOUND (what another account's key gets too). */
  async require(owner: LayerOwner, key: string): Promise<LayerRow> {
    const row = await this.get(owner, key);
    if (!row) throw notFound(key);
    return row;
  }

  /**
   * Freezes the instance disk `disk` (a snapshot the cloud made over an origin) as `owner`'s
   * layer of `key`: `paused` runs the copy with the guest stopped (QMP stop, then cont), so
   * the disk does not change under it. The layer is written as a delta over the origin
   * (`qemu-img convert -B`: only the clusters the instance wrote), synced, renamed in, and
   * then its row replaces the owner's previous layer of that key; the owner's least recently
   * used layers that `inUse` does not name go when the cache would be over its size.
   */
  async freeze(owner: LayerOwner, key: string, disk: string, paused: <T>(work: () => Promise<T>) => Promise<T>, inUse: ReadonlySet<string>): Promise<LayerRow> {
    requireLayerKey(key);
    return this.turns.run(owner.id, async () => {
      const { snapshot, origin } = await this.frozenDisk(disk);
      const dir = this.ownerDir(owner.id);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const id = randomUUID();
      const tmp = join(dir, `${id}.tmp`);
      const file = join(dir, `${id}.qcow2`);
      const base = this.o.disks.locate(origin.uuid);
      try {
        // The backing is named relative to the layer's folder, as pdisk names its overlays' origins.
        await paused(() => run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'qcow2', '-B', relative(dir, resolve(base.path)), '-F', base.format,
          resolve(this.o.disks.locate(snapshot.uuid).path), tmp], { cwd: dir, timeoutMs: 3_600_000 }));
        await syncFile(tmp);
        const now = this.now();
        const row: LayerRow = { id, owner_id: owner.id, owner: owner.username, key, origin: origin.uuid, bytes: (await stat(tmp)).size, created: now, used: now };
        await rename(tmp, file);
        await syncFile(dir);
        let removed: LayerRow[];
        try {
          removed = await this.o.store.put(row, this.o.capBytes, inUse);
        } catch (e) {
          await rm(file, { force: true });
          throw e;
        }
        for (const r of removed) await rm(this.fileOf(r), { force: true });
        return row;
      } finally {
        await rm(tmp, { force: true });
      }
    });
  }

  /**
   * A new instance disk of `user`'s: a snapshot of `origin` that starts as `owner`'s layer of
   * `key` (LAYER_NOT_FOUND, or LAYER_MISMATCH when the layer was made over another origin).
   */
  async liveCopy(user: Principal, key: string, origin: VolumeRow, what: string): Promise<{ volume: VolumeRow; layer: LayerRow }> {
    return this.turns.run(user.id, async () => {
      const layer = matching(await this.require(user, key), origin);
      const volume = await this.o.disks.liveCopy(user, origin, what, this.fileOf(layer));
      await this.o.store.touch(layer.id, this.now());
      return { volume, layer };
    });
  }

  /** Removes `owner`'s layer of `key`, unless `inUse` names it (LAYER_IN_USE). */
  async remove(owner: LayerOwner, key: string, inUse: ReadonlySet<string>): Promise<void> {
    requireLayerKey(key);
    await this.turns.run(owner.id, async () => {
      const row = await this.o.store.get(owner.id, key);
      if (!row) throw notFound(key);
      if (inUse.has(row.id)) throw new StratusError('LAYER_IN_USE', `layer ${key} is in use: a live instance was started from it`);
      await this.drop(row);
    });
  }

  /** Removes the layers no one can run any more (their account or their origin is gone); returns how many. */
  async collect(): Promise<number> {
    const stale = await this.o.store.stale();
    for (const row of stale) await this.turns.run(row.owner_id, () => this.drop(row));
    return stale.length;
  }

  /**
   * At start-up, before anything runs: files and rows agree again after a crash. Unfinished
   * layers (`*.tmp`) and files without a row go, rows without a file go, and so do the layers
   * collect() would remove.
   */
  async reconcile(): Promise<{ temporary: number; orphans: number; missing: number; stale: number }> {
    const rows = await this.o.store.all();
    const known = new Set(rows.map((r) => join(this.ownerDir(r.owner_id), `${r.id}.qcow2`)));
    let temporary = 0;
    let orphans = 0;
    for (const owner of await readdir(this.o.dir).catch(() => [] as string[])) {
      const dir = join(this.o.dir, owner);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const path = join(dir, name);
        if (known.has(path)) continue;
        if (name.endsWith('.tmp')) temporary++;
        else orphans++;
        await rm(path, { force: true, recursive: true });
      }
    }
    let missing = 0;
    for (const row of rows) {
      if (await exists(this.fileOf(row))) continue;
      await this.o.store.remove(row.id);
      missing++;
    }
    return { temporary, orphans, missing, stale: await this.collect() };
  }

  /** The instance disk to freeze and its origin: a qcow2 whose backing file is the origin itself. */
  private async frozenDisk(disk: string): Promise<{ snapshot: VolumeRow; origin: VolumeRow }> {
    const snapshot = await this.o.volumes.get(disk);
    if (!snapshot || snapshot.type !== 'MACHINE_IMAGE_LIVE' || !snapshot.origin || snapshot.format !== 'qcow2') {
      throw new StratusError('LAYER_MISMATCH', `the instance's disk ${disk} is not a snapshot the cloud made of a base image, so it has no layer to keep`);
    }
    const origin = await this.o.volumes.get(snapshot.origin);
    if (!origin) throw new StratusError('LAYER_MISMATCH', `the base image of the instance's disk (volume ${snapshot.origin}) was deleted: a layer over it could never run`);
    // convert -B copies only what the top file holds: a chain with another file between the two would lose that file's clusters.
    const at = this.o.disks.locate(snapshot.uuid);
    const info = JSON.parse((await run('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', at.path])).stdout) as { 'backing-filename'?: string };
    const backing = info['backing-filename'];
    if (backing === undefined || resolve(at.path, '..', backing) !== resolve(this.o.disks.locate(origin.uuid).path)) {
      throw new StratusError('LAYER_MISMATCH', `the instance's disk ${disk} is not an overlay straight over its base image (its backing file is ${backing ?? 'none'})`);
    }
    return { snapshot, origin };
  }

  private async drop(row: LayerRow): Promise<void> {
    await this.o.store.remove(row.id);
    await rm(this.fileOf(row), { force: true });
  }

  private fileOf(row: LayerRow): string {
    return join(this.ownerDir(row.owner_id), `${row.id}.qcow2`);
  }

  private ownerDir(ownerId: string): string {
    // Account ids are random UUIDs; anything else must not become a path.
    if (!/^[A-Za-z0-9-]{1,64}$/.test(ownerId)) throw new StratusError('INTERNAL', `account id ${JSON.stringify(ownerId)} cannot name a layer folder`);
    return join(this.o.dir, ownerId);
  }

  private now(): string {
    return (this.o.clock ?? (() => new Date()))().toISOString();
  }
}

/** The layer, if it was made over `origin`; LAYER_MISMATCH otherwise. */
export function matching(layer: LayerRow, origin: VolumeRow): LayerRow {
  if (layer.origin !== origin.uuid) {
    throw new StratusError('LAYER_MISMATCH', `layer ${layer.key} was made over another base image (volume ${layer.origin}) than the one asked for (volume ${origin.uuid})`);
  }
  return layer;
}

function notFound(key: string): StratusError {
  return new StratusError('LAYER_NOT_FOUND', `no layer ${key}`);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** fsync of a file, or of a folder (so a rename in it is on disk). */
async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
