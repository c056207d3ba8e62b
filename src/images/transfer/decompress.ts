import { spawn } from 'node:child_process';
import { Duplex, PassThrough } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { compressionOf } from '../../platform/hashing.js';

export type Compression = 'gz' | 'bz2' | 'none';

/** Raised when the compressed data cannot be decoded: the download is corrupt. */
class CorruptDataError extends Error {}

/**
 * The compression of a download, judged by its first bytes (gzip 1f 8b, bzip2 'BZh') and, when
 * those say nothing (fewer than 3 bytes), by the location's suffix as StratusLab did.
 */
export function sniffCompression(head: Buffer, location: string): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gz';
  if (head.length >= 3 && head.subarray(0, 3).toString('latin1') === 'BZh') return 'bz2';
  if (head.length >= 3) return 'none';
  return compressionOf(location.split(/[?#]/)[0] ?? '');
}

/** True for an error that says the compressed data is damaged (zlib's Z_* codes, bzip2's failure). */
export function isCorruptData(e: unknown): boolean {
  return e instanceof CorruptDataError || /^Z_/.test(String((e as NodeJS.ErrnoException | undefined)?.code ?? ''));
}

/** A stream that decompresses `c`. */
export function decompressor(c: Compression): Duplex {
  // 1 MiB output chunks: at zlib's default 16 KiB the per-chunk overhead dominates (bench/pdisk-download).
  if (c === 'gz') return createGunzip({ chunkSize: 1024 * 1024 });
  if (c === 'bz2') return bunzip2();
  return new PassThrough();
}

/**
 * `bzip2 -dc` as a stream (Node has no bzip2; the Debian tool also runs on another core). The
 * output ends only once bzip2 has exited with status 0, so damaged input is an error, not a
 * silently short image. When bzip2 stops reading (it found bad data), further input is dropped
 * and its exit status says why.
 */
function bunzip2(): Duplex {
  const child = spawn('bzip2', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let waiting: (() => void) | undefined;
  const release = (): void => {
    const cb = waiting;
    waiting = undefined;
    cb?.();
  };
  const duplex = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      if (child.stdin.destroyed || child.stdin.writableEnded) return cb();
      if (child.stdin.write(chunk)) return cb();
      waiting = () => cb();
      child.stdin.once('drain', release);
    },
    final(cb) {
      child.stdin.end();
      cb();
    },
    read() {
      child.stdout.resume();
    },
    destroy(error, cb) {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      cb(error);
    },
  });
  child.stdin.on('error', release);
  child.stdin.on('close', release);
  child.stdout.on('data', (d: Buffer) => {
    if (!duplex.push(d)) child.stdout.pause();
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.on('error', (e) => duplex.destroy(new Error(`cannot run bzip2: ${e.message}`)));
  child.on('close', (code) => {
    if (code === 0) duplex.push(null);
    else duplex.destroy(new CorruptDataError(stderr.trim().split('\n')[0] || `bzip2 exited with ${code}`));
  });
  return duplex;
}
