import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { StratusError } from '../../domain/errors.js';
import type { DigestName, DigestResult } from '../../platform/hashing.js';
import { storageError } from '../../platform/sparse-writer.js';
import { tap } from '../../platform/streams.js';
import { removeOnExit } from './cleanup.js';

/**
 * Gzips `src` into `dest` in one streaming pass, optionally computing digests of the
 * uncompressed bytes on the way (so building metadata costs no second read). The result is
 * written under a temporary name and renamed only when complete, so a failure or Ctrl-C never
 * leaves a truncated .gz that a later run would take for a finished one.
 */
export async function gzipFile(src: string, dest: string, opts: { algorithms?: DigestName[]; onProgress?: (read: number) => void } = {}): Promise<DigestResult> {
  const tmp = join(dirname(dest), `.${basename(dest)}.${randomBytes(6).toString('hex')}.tmp`);
  const dispose = removeOnExit(tmp);
  const algorithms = [...new Set(opts.algorithms ?? [])];
  const hashes = algorithms.map((a) => createHash(a));
  let bytes = 0;
  const reading = tap((chunk) => {
    bytes += chunk.length;
    for (const h of hashes) h.update(chunk);
    opts.onProgress?.(bytes);
  });
  try {
    await pipeline(createReadStream(src, { highWaterMark: 1024 * 1024 }), reading, createGzip(), createWriteStream(tmp, { flags: 'wx', mode: 0o644 }));
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { force: true });
    const err = storageError(e, dest);
    if (err instanceof StratusError) throw err;
    const code = (e as NodeJS.ErrnoException).code;
    throw new StratusError('TOOL_FAILED', `cannot compress ${src} into ${dest}: ${code ?? err.message}`, {
      hint: 'Check that the directory is writable and has room, or gzip the image yourself and pass the .gz file.',
    });
  } finally {
    dispose();
  }
  const digests: DigestResult['digests'] = {};
  algorithms.forEach((a, i) => { digests[a] = (hashes[i] as ReturnType<typeof createHash>).digest('hex'); });
  return { bytes, digests };
}
