import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { StratusError } from '../domain/errors.js';

export type DigestName = 'md5' | 'sha1' | 'sha256' | 'sha512';

export interface DigestResult {
  /** Bytes of content hashed (decompressed bytes for .gz and .bz2). */
  bytes: number;
  digests: Partial<Record<DigestName, string>>;
}

export interface HashOptions {
  algorithms: DigestName[];
  /** gz / bz2 decompress before hashing; undefined guesses from the file name. */
  compression?: 'gz' | 'bz2' | 'none';
  /** Called as the file is read, with bytes read from disk so far and the file size. */
  onProgress?: (read: number, total: number) => void;
  /** Use a worker thread for half of the algorithms (default: when hashing 2 or more). */
  parallel?: boolean;
}

/** Relative costs per byte on x86-64 with SHA-NI, used to split work between two threads. */
const COST: Record<DigestName, number> = { md5: 1.5, sha1: 1, sha256: 1.1, sha512: 1.4 };
/** Chunks in flight to the worker before reading pauses: bounds memory to ~16 MiB. */
const MAX_IN_FLIGHT = 16 * 1024 * 1024;

/** Compression judged from the file name, as StratusLab does. */
export function compressionOf(path: string): 'gz' | 'bz2' | 'none' {
  return path.endsWith('.gz') ? 'gz' : path.endsWith('.bz2') ? 'bz2' : 'none';
}

/**
 * Reads a file once, streaming, and computes several digests and the content size, over the
 * decompressed content for .gz and .bz2. The digests are split across the main thread and
 * one worker thread, so four digests cost about the time of two.
 */
export async function hashFile(path: string, options: HashOptions): Promise<DigestResult> {
  let total: number;
  try {
    total = statSync(path).size;
  } catch {
    throw new StratusError('IMAGE_NOT_READABLE', `cannot read image file ${path}`, { hint: 'Check the path and permissions.' });
  }
  const compression = options.compression ?? compressionOf(path);
  const raw = createReadStream(path, { highWaterMark: 1024 * 1024 });
  let read = 0;
  raw.on('data', (c: Buffer | string) => {
    read += c.length;
    options.onProgress?.(read, total);
  });
  const content = decompress(raw, compression, path);
  return hashStream(content, options, `image file ${path}`);
}

/** Hashes any readable stream of bytes; see hashFile. */
export async function hashStream(content: Readable, options: Pick<HashOptions, 'algorithms' | 'parallel'>, what = 'stream'): Promise<DigestResult> {
  const hash = new MultiHash(options.algorithms, options.parallel);
  try {
    for await (const chunk of content as AsyncIterable<Buffer>) await hash.update(chunk);
    return await hash.digest();
  } catch (e) {
    if (e instanceof StratusError) throw e;
    throw new StratusError('IMAGE_NOT_READABLE', `cannot read ${what}: ${(e as Error).message}`);
  } finally {
    await hash.close();
  }
}

/**
 * Several digests of one stream of chunks, fed as they pass by (a copy hashes what it writes,
 * in the same pass): half of the algorithms run on a worker thread when there are two or
 * more. update() waits when the worker falls behind, so memory stays bounded; close() always.
 */
export class MultiHash {
  private readonly local: DigestName[];
  private readonly remote: DigestName[];
  private readonly hashes: Array<ReturnType<typeof createHash>>;
  private readonly worker: HashWorker | undefined;
  private bytes = 0;

  constructor(algorithms: DigestName[], parallel?: boolean) {
    const unique = [...new Set(algorithms)];
    ({ local: this.local, remote: this.remote } = (parallel ?? unique.length >= 2) ? split(unique) : { local: unique, remote: [] as DigestName[] });
    this.hashes = this.local.map((a) => createHash(a));
    this.worker = this.remote.length > 0 ? new HashWorker(this.remote) : undefined;
  }

  async update(chunk: Buffer): Promise<void> {
    this.bytes += chunk.length;
    if (this.worker) await this.worker.send(chunk);
    for (const h of this.hashes) h.update(chunk);
  }

  async digest(): Promise<DigestResult> {
    const digests: Partial<Record<DigestName, string>> = {};
    this.local.forEach((a, i) => { digests[a] = (this.hashes[i] as ReturnType<typeof createHash>).digest('hex'); });
    if (this.worker) {
      const remoteDigests = await this.worker.finish();
      this.remote.forEach((a, i) => { digests[a] = remoteDigests[i] as string; });
    }
    return { bytes: this.bytes, digests };
  }

  async close(): Promise<void> {
    await this.worker?.close();
  }
}

function decompress(raw: Readable, compression: 'gz' | 'bz2' | 'none', path: string): Readable {
  if (compression === 'gz') return raw.pipe(createGunzip());
  if (compression === 'bz2') {
    // Node has no bzip2; Debian's bzip2 decompresses in its own process, on the other core.
    const child = spawn('bzip2', ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    raw.pipe(child.stdin);
    child.on('close', (code) => {
      if (code !== 0) child.stdout.destroy(new Error(`bzip2 -dc ${path} failed: ${err.trim() || `exit ${code}`}`));
    });
    return child.stdout;
  }
  return raw;
}

/** Greedy split of algorithms by cost so both threads finish at about the same time. */
function split(algorithms: DigestName[]): { local: DigestName[]; remote: DigestName[] } {
  const sorted = [...algorithms].sort((a, b) => COST[b] - COST[a]);
  const local: DigestName[] = [];
  const remote: DigestName[] = [];
  let lc = 0.3; // the main thread also reads and copies chunks
  let rc = 0;
  for (const a of sorted) {
    if (rc <= lc) { remote.push(a); rc += COST[a]; } else { local.push(a); lc += COST[a]; }
  }
  return { local, remote };
}

class HashWorker {
  private readonly worker: Worker;
  private inFlight = 0;
  private waiter: (() => void) | undefined;
  private failure: Error | undefined;
  private done: ((d: string[]) => void) | undefined;

  constructor(algorithms: DigestName[]) {
    this.worker = new Worker(new URL('./hash-worker.js', import.meta.url), { workerData: { algorithms } });
    this.worker.on('message', (m: { ack?: number; digests?: string[] }) => {
      if (m.ack !== undefined) {
        this.inFlight -= m.ack;
        this.wake();
      } else if (m.digests) {
        this.done?.(m.digests);
      }
    });
    this.worker.on('error', (e) => { this.failure = e; this.wake(); });
  }

  async send(chunk: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    // Copy into a buffer of its own so it can be transferred without touching pooled memory.
    const copy = new Uint8Array(chunk.length);
    copy.set(chunk);
    this.inFlight += copy.byteLength;
    this.worker.postMessage({ chunk: copy.buffer }, [copy.buffer]);
    while (this.inFlight > MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => { this.waiter = r; });
    if (this.failure) throw this.failure;
  }

  finish(): Promise<string[]> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.done = resolve;
      this.worker.once('error', reject);
      this.worker.postMessage({ end: true });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
