import { closeSync, constants, existsSync, fstatSync, fsyncSync, openSync, readFileSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { StratusError } from '../domain/errors.js';

/**
 * Writes a file so that readers see either the old content or the new, never half of it:
 * write a temporary file beside the target, fsync, then rename over the target.
 */
export function writeFileAtomic(path: string, data: string | Buffer, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', mode);
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    throw new StratusError('FILE_NOT_FOUND', `cannot write ${path}: ${err.code ?? err.message}`, { hint: 'Check that the directory exists and is writable, and that the disk is not full.' });
  }
}

/** Fails with FILE_NOT_FOUND and the StratusLab wording when an input file is missing. */
export function requireFile(path: string, what = 'file'): void {
  if (!existsSync(path)) throw new StratusError('FILE_NOT_FOUND', `Can't find ${what}: ${path}`);
}

/**
 * The last `n` lines of a log joined with ' | ', for error messages: '' when the file is
 * empty, undefined when it cannot be read.
 */
export function tailLines(file: string, n: number): string | undefined {
  try {
    const text = readFileSync(file, 'utf8').replace(/\r/g, '').trim();
    return text ? text.split('\n').slice(-n).join(' | ') : '';
  } catch {
    return undefined;
  }
}

/** The last `maxBytes` of a file (from a whole line when cut), '' when it cannot be read; reads only the tail. */
export function readTailBytes(file: string, maxBytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    const text = buf.toString('utf8');
    return start > 0 ? text.slice(text.indexOf('\n') + 1) : text;
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Whether files in `dir` can be opened with O_DIRECT (ext4 and xfs can; tmpfs only since
 * Linux 6.6), tried on a probe file that is removed at once.
 */
export function supportsDirectIo(dir: string): boolean {
  const probe = join(dir, `.direct-probe-${randomBytes(4).toString('hex')}`);
  try {
    closeSync(openSync(probe, constants.O_CREAT | constants.O_WRONLY | constants.O_EXCL | constants.O_DIRECT, 0o600));
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { force: true });
  }
}
