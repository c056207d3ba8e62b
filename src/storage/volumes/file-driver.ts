import { createReadStream, createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { open, readdir, rename, rm, stat, truncate, utimes } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Readable, Writable } from 'node:stream';
import { StratusError } from '../../domain/errors.js';
import { run } from '../../platform/run.js';
import { SparseFileWriter, storageError } from '../../platform/sparse-writer.js';
import { openRawChain } from '../../platform/raw-reader.js';
import type { VolumeDriver, VolumeLocation, VolumeUpload } from './driver.js';

const MIB = 1024 * 1024;

/**
 * Volumes as files in one directory:
 *
 *   <root>/<uuid>.raw     raw content (sparse)
 *   <root>/<uuid>.qcow2   a copy-on-write snapshot; its backing file is "<origin>.raw" (or
 *                         ".qcow2"), relative, so the data dir can move; or a qcow2 image
 *                         imported as it is, with no backing file
 *   <root>/<uuid>.gz      gzipped content: the upload as received, or made on first download
 *   <root>/.tmp/          uploads and conversions in progress; swept at start-up
 */
export function createFileVolumeDriver(root: string, options: { durable?: boolean } = {}): VolumeDriver {
  const tmpDir = join(root, '.tmp');
  mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
  const durable = options.durable ?? true;
  const raw = (uuid: string): string => join(root, `${uuid}.raw`);
  const qcow = (uuid: string): string => join(root, `${uuid}.qcow2`);
  const gz = (uuid: string): string => join(root, `${uuid}.gz`);
  const tmp = (what: string): string => join(tmpDir, `${what}.${randomBytes(6).toString('hex')}`);

  const locate = (uuid: string): VolumeLocation =>
    existsSync(qcow(uuid)) ? { path: qcow(uuid), format: 'qcow2' } : { path: raw(uuid), format: 'raw' };

  const requireVolume = (uuid: string): VolumeLocation => {
    const loc = locate(uuid);
    if (!existsSync(loc.path)) throw new StratusError('VOLUME_NOT_FOUND', `no data stored for volume ${uuid}`);
    return loc;
  };

  /** Writes a raw copy of any volume into a temporary file and returns its path. */
  const rawCopy = async (uuid: string): Promise<string> => {
    const loc = requireVolume(uuid);
    const out = tmp(`${uuid}.flat`);
    try {
      await run('qemu-img', ['convert', '-f', loc.format, '-O', 'raw', loc.path, out], { cwd: root, timeoutMs: 3_600_000 });
    } catch (e) {
      await rm(out, { force: true });
      throw e;
    }
    return out;
  };

  // Made by the first download that needs it, so a store that never caches has no such folder.
  const scratchDir = join(root, '.cache');
  return {
    name: 'file',
    locate,
    scratchDir,

    async importImage(uuid, path, format) {
      const final = format === 'qcow2' ? qcow(uuid) : raw(uuid);
      const t = tmp(`${uuid}.${format}`);
      try {
        try {
          await rename(path, t);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
          // Another filesystem: a sparse copy, then the original goes.
          await run('cp', ['--sparse=always', path, t], { timeoutMs: 3_600_000 });
          await rm(path, { force: true });
        }
        await rename(t, final);
      } catch (e) {
        await rm(t, { force: true });
        throw storageError(e, 'the volume store');
      }
      return { bytes: await fileSize(final) };
    },

    async createEmpty(uuid, bytes) {
      const t = tmp(uuid);
      try {
        const h = await open(t, 'wx', 0o600);
        await h.close();
        await truncate(t, bytes);
        await rename(t, raw(uuid));
      } catch (e) {
        await rm(t, { force: true });
        throw storageError(e, 'the volume store');
      }
    },

    async beginUpload(uuid, withCompressed): Promise<VolumeUpload> {
      const contentPath = tmp(`${uuid}.raw`);
      const gzPath = tmp(`${uuid}.gz`);
      const content = new SparseFileWriter(contentPath, durable, 'the volume store');
      // Written like the content: synced in the background as it grows, and fully before it finishes.
      const compressed = withCompressed ? new SparseFileWriter(gzPath, durable, 'the volume store') : undefined;
      const cleanup = async (): Promise<void> => {
        // Both streams open their file asynchronously: wait until they are closed, or an
        // open still in flight would create the file again after it was removed.
        await Promise.all([destroyed(content), compressed ? destroyed(compressed) : undefined]);
        await rm(contentPath, { force: true });
        await rm(gzPath, { force: true });
      };
      return {
        content,
        compressed,
        async commit() {
          try {
            if (compressed) {
              // gzipped() remakes a copy older than the content. The content's last write (its
              // final truncate) usually comes after the copy's, so date the copy after it.
              const written = (await stat(contentPath)).mtimeMs;
              const at = Math.max(Date.now(), Math.ceil(written) + 1) / 1000;
              await utimes(gzPath, at, at);
              await rename(gzPath, gz(uuid));
            }
            await rename(contentPath, raw(uuid));
            return { bytes: content.bytes };
          } catch (e) {
            await cleanup();
            await rm(gz(uuid), { force: true });
            throw storageError(e, 'the volume store');
          }
        },
        abort: cleanup,
      };
    },

    async snapshot(origin, uuid, delta) {
      const base = locate(origin);
      if (!existsSync(base.path)) throw new StratusError('VOLUME_STATE', `volume ${origin} has no content to snapshot`);
      const t = tmp(`${uuid}.qcow2`);
      try {
        // The backing path is relative to the overlay's own directory. The overlay is made in
        // .tmp and then renamed beside its origin, so it names the origin without "../";
        // -u skips opening the backing file from .tmp, which is why the size is given.
        const size = base.format === 'raw' ? await fileSize(base.path) : await virtualSize(base.path, root);
        if (delta === undefined) {
          await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', base.format, '-b', `${origin}.${base.format}`, '-u', t, String(size)], { cwd: root });
        } else {
          // A copy (shared extents where the file system can), then only its header names the origin.
          await run('cp', ['--reflink=auto', '--sparse=always', delta, t], { timeoutMs: 3_600_000 });
          await run('qemu-img', ['rebase', '-q', '-u', '-f', 'qcow2', '-F', base.format, '-b', `${origin}.${base.format}`, t], { cwd: root });
          const got = await virtualSize(t, root);
          if (got !== size) throw new StratusError('VOLUME_STATE', `the delta ${delta} is ${got} bytes, but volume ${origin} is ${size}: it was not made over that volume`);
        }
        await rename(t, qcow(uuid));
      } catch (e) {
        await rm(t, { force: true });
        throw e;
      }
    },

    async flatten(source, uuid) {
      const out = await rawCopy(source);
      try {
        await rename(out, raw(uuid));
      } catch (e) {
        await rm(out, { force: true });
        throw storageError(e, 'the volume store');
      }
      return { bytes: await fileSize(raw(uuid)) };
    },

    async gzipped(uuid) {
      const loc = requireVolume(uuid);
      const cached = await stat(gz(uuid)).catch(() => undefined);
      const content = await stat(loc.path);
      if (!cached || cached.mtimeMs < content.mtimeMs) {
        // A snapshot changes while a machine runs, so its gzip copy is remade when stale.
        const source = loc.format === 'raw' ? loc.path : await rawCopy(uuid);
        const t = tmp(`${uuid}.gz`);
        try {
          // 1 MiB reads and output chunks: zlib's 16 KiB default costs a thread-pool round trip
          // per chunk (1 GiB took 20 s at level 1, 14.6 s this way).
          await pipeline(createReadStream(source, { highWaterMark: MIB }), createGzip({ level: 1, chunkSize: MIB }), createWriteStream(t, { flags: 'wx', mode: 0o600 }));
          await rename(t, gz(uuid));
        } catch (e) {
          await rm(t, { force: true });
          throw storageError(e, 'the volume store');
        } finally {
          if (source !== loc.path) await rm(source, { force: true });
        }
      }
      const size = (await stat(gz(uuid))).size;
      return {
        size,
        open: (start?: number, end?: number) => createReadStream(gz(uuid), { start: start ?? 0, ...(end !== undefined ? { end } : {}) }),
      };
    },

    async openRaw(uuid) {
      const loc = requireVolume(uuid);
      if (loc.format === 'raw') return createReadStream(loc.path);
      // Straight from the overlay and its origin when their map allows; else a raw copy first.
      const direct = await openRawChain(loc.path);
      if (direct) return direct;
      const copy = await rawCopy(uuid);
      const stream: Readable = createReadStream(copy);
      stream.on('close', () => void rm(copy, { force: true }));
      return stream;
    },

    async size(uuid) {
      const loc = requireVolume(uuid);
      return loc.format === 'raw' ? fileSize(loc.path) : virtualSize(loc.path, root);
    },

    async exists(uuid) {
      return existsSync(raw(uuid)) || existsSync(qcow(uuid));
    },

    async delete(uuid) {
      await rm(qcow(uuid), { force: true });
      await rm(raw(uuid), { force: true });
      await rm(gz(uuid), { force: true });
    },

    async inventory() {
      const names = await readdir(root);
      const volumes = [...new Set(names.filter((n) => /\.(raw|qcow2|gz)$/.test(n)).map((n) => n.replace(/\.(raw|qcow2|gz)$/, '')))];
      return { volumes, temporary: await readdir(tmpDir) };
    },

    async sweep() {
      const left = await readdir(tmpDir);
      for (const f of left) await rm(join(tmpDir, f), { force: true });
      return left.length;
    },
  };
}

async function virtualSize(path: string, root: string): Promise<number> {
  const info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-U', '-f', 'qcow2', path], { cwd: root })).stdout) as { 'virtual-size': number };
  return info['virtual-size'];
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/** Destroys a stream and resolves once it has closed (its file descriptor released). */
function destroyed(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) return resolve();
    stream.once('close', () => resolve());
    stream.destroy();
  });
}
