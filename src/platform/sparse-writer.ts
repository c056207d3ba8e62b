import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { StratusError } from '../domain/errors.js';

/** Zero runs shorter than this are written; longer ones become holes. */
const BLOCK = 64 * 1024;
/**
 * A durable writer starts a background fdatasync after this much data, so the disk writes
 * while the rest is still being produced and the final fsync has only the tail left: one
 * fsync of a 1 GiB image at the end took 0.3-2 s on a shared disk, and made that much of the
 * difference between runs of the pdisk benchmarks.
 */
const SYNC_EVERY = 32 * 1024 * 1024;
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
 * length, so trailing zeros still count; when durable, the data is on disk before finish.
 */
export class SparseFileWriter extends Writable {
  private handle: FileHandle | undefined;
  private position = 0;
  /** Data written since the last background sync started, and that sync while it runs. */
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  private syncError: unknown;
  /** Bytes not yet written: less than a block, kept as received so they are copied once. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** `label` names the file in errors (a server passes something that does not reveal its paths). */
  constructor(private readonly path: string, private readonly durable = true, private readonly label = path) {
    super({ highWaterMark: 4 * 1024 * 1024 });
  }

  /** Bytes accepted so far. */
  get bytes(): number {
    return this.position + this.pendingBytes;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    open(this.path, 'wx', 0o600).then((h) => {
      this.handle = h;
      callback();
    }, (e: unknown) => callback(storageError(e, this.label)));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.take([chunk], callback);
  }

  /**
   * Chunks that queued while a write was in flight arrive together, and go to disk in as few
   * writes as the zero blocks allow (a gunzip makes 16 KiB chunks by default).
   */
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.take(chunks.map((c) => c.chunk), callback);
  }

  private take(chunks: Buffer[], callback: (error?: Error | null) => void): void {
    for (const c of chunks) {
      this.pending.push(c);
      this.pendingBytes += c.length;
    }
    if (this.pendingBytes < BLOCK) return callback();
    const all = this.drain();
    const whole = all.length - (all.length % BLOCK);
    const rest = all.subarray(whole);
    if (rest.length > 0) {
      this.pending.push(rest);
      this.pendingBytes = rest.length;
    }
    this.writeBlocks(all.subarray(0, whole)).then(() => callback(), (e: unknown) => callback(storageError(e, this.label)));
  }

  /** Everything pending, as one buffer (copied only when it came in several chunks). */
  private drain(): Buffer {
    const all = this.pending.length === 1 ? this.pending[0] as Buffer : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    return all;
  }

  override _final(callback: (error?: Error | null) => void): void {
    const tail = this.drain();
    (async () => {
      await this.writeBlocks(tail);
      const h = this.handle as FileHandle;
      await this.syncing;
      if (this.syncError) throw this.syncError;
      await h.truncate(this.position);
      if (this.durable) await h.sync();
      await h.close();
      this.handle = undefined;
    })().then(() => callback(), (e: unknown) => callback(storageError(e, this.label)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const h = this.handle;
    this.handle = undefined;
    if (!h) return callback(error);
    Promise.resolve(this.syncing).then(() => h.close()).then(() => callback(error), () => callback(error));
  }

  /** Starts a background fdatasync of what is written so far, unless one is running. */
  private syncInBackground(h: FileHandle): void {
    if (!this.durable || this.syncing || this.unsynced < SYNC_EVERY) return;
    this.unsynced = 0;
    this.syncing = h.datasync().catch((e: unknown) => { this.syncError = e; }).finally(() => { this.syncing = undefined; });
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
      this.unsynced += run.length;
      start = runEnd;
    }
    this.syncInBackground(h);
  }
}
