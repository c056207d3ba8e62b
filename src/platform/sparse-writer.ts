import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { StratusError } from '../domain/errors.js';

/** Zero runs shorter than this are written; longer ones become holes. */
const BLOCK = 64 * 1024;
const ZEROS = Buffer.alloc(BLOCK);

/** Turns ENOSPC and friends into errors that say what happened. */
export function storageError(e: unknown, path: string): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StratusError('STORAGE_FULL', `no space left on the device holding ${path}`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

/**
 * A Writable that writes a file by position and leaves all-zero 64 KiB blocks as holes, so a
 * 10 GiB image that is mostly empty takes only its data on disk. finish() sets the final
 * length, so trailing zeros still count.
 */
export class SparseFileWriter extends Writable {
  private handle: FileHandle | undefined;
  private position = 0;
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly path: string, private readonly durable = true) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.position + this.pending.length;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.path, 'wx', 0o600).then((h) => {
      this.handle = h;
      callback();
    }, (e: unknown) => callback(storageError(e, this.path)));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const whole = this.pending.length - (this.pending.length % BLOCK);
    if (whole === 0) return callback();
    const ready = this.pending.subarray(0, whole);
    this.pending = this.pending.subarray(whole);
    this.writeBlocks(ready).then(() => callback(), (e: unknown) => callback(storageError(e, this.path)));
  }

  override _final(callback: (error?: Error | null) => void): void {
    const tail = this.pending;
    this.pending = Buffer.alloc(0);
    (async () => {
      await this.writeBlocks(tail);
      const h = this.handle as FileHandle;
      await h.truncate(this.position);
      if (this.durable) await h.sync();
      await h.close();
      this.handle = undefined;
    })().then(() => callback(), (e: unknown) => callback(storageError(e, this.path)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const h = this.handle;
    this.handle = undefined;
    if (!h) return callback(error);
    h.close().then(() => callback(error), () => callback(error));
  }

  private async writeBlocks(data: Buffer): Promise<void> {
    const h = this.handle as FileHandle;
    let start = 0;
    // Coalesce consecutive non-zero blocks into one write.
    while (start < data.length) {
      const end = Math.min(start + BLOCK, data.length);
      const block = data.subarray(start, end);
      if (block.length === BLOCK && block.equals(ZEROS)) {
        start = end;
        this.position += BLOCK;
        continue;
      }
      let runEnd = end;
      while (runEnd < data.length) {
        const next = data.subarray(runEnd, Math.min(runEnd + BLOCK, data.length));
        if (next.length === BLOCK && next.equals(ZEROS)) break;
        runEnd += next.length;
      }
      const run = data.subarray(start, runEnd);
      let off = 0;
      while (off < run.length) {
        const { bytesWritten } = await h.write(run, off, run.length - off, this.position + off);
        off += bytesWritten;
      }
      this.position += run.length;
      start = runEnd;
    }
  }
}
