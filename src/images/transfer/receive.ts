import { createHash } from 'node:crypto';
import { chmodSync, createReadStream, renameSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isStratusError } from '../../domain/errors.js';
import { identifierFromSha1 } from '../../domain/identifier.js';
import { compressedBound } from '../../domain/volume.js';
import { SparseFileWriter } from '../../platform/sparse-writer.js';
import type { Progress } from '../../platform/progress.js';
import { removeOnExit } from './cleanup.js';
import { decompressor, isCorruptData, sniffCompression } from './decompress.js';
import type { Source } from './locations.js';
import type { PartFiles, PartState } from './part.js';

/**
 * What the metadata promises about the decompressed image. `bytes` (slreq:bytes) is also the
 * download's budget: no more than that is written decompressed, and no more than
 * compressedBound(bytes) is taken from the location, so a location serving a decompression
 * bomb or an endless stream fills neither the disk nor the .part file.
 *
 * A plain URL promises nothing: without `sha1`, the content is not checked and `bytes` is
 * only the budget (`limitFrom` says whose), and `identifier` merely names the .part state.
 */
export interface Expected {
  identifier: string;
  sha1?: string;
  bytes: number;
  /** Where the budget comes from, for the refusal (default: slreq:bytes in the metadata). */
  limitFrom?: string;
}

/**
 * How one location went. `mismatch`: the bytes are not the image (corrupt or different);
 * `network`: the transfer broke off, .part is kept for a resume; `refused`: the location
 * answered with an error.
 */
type Failure = { ok: false; kind: 'mismatch' | 'network' | 'refused'; reason: string; progressed: boolean; oversize?: true };
export type Outcome = { ok: true; sha1: string; bytes: number } | Failure;

interface Attempt {
  source: Source;
  files: PartFiles;
  output: string;
  /** Decompressed content goes here first; renamed to `output` only once verified. */
  temp: string;
  expected: Expected;
  progress: (total: number) => Progress;
  note: (msg: string) => void;
}

class NetworkError extends Error {}
class MismatchError extends Error {}
class OversizeError extends MismatchError {}

/** More than the entry's size: a decompression bomb, an endless stream, or simply not this image. */
function oversize(what: string, limit: number, from = 'slreq:bytes in the metadata'): OversizeError {
  return new OversizeError(`refused: the location gave more than the ${limit} bytes ${what} may take (from ${from}); the download was stopped and nothing was kept`);
}

/**
 * Downloads from one location: resumes from .part when it holds a prefix from this location,
 * and streams raw bytes → .part (append) → decompressor → SHA-1 and byte count → sparse temp
 * file, all in one pass. The temp file becomes `output` only when SHA-1 and size match.
 */
export async function receive(a: Attempt): Promise<Outcome> {
  const first = await receiveOnce(a);
  if (first !== 'again') return first;
  // A resume that failed verification may have built on stale bytes (a file that changed
  // behind a server without ETags): the part is gone by now, so try once from the start.
  a.note(`The resumed download from ${a.source.location} did not verify; downloading it again from the start`);
  return (await receiveOnce(a, false)) as Outcome;
}

async function receiveOnce(a: Attempt, mayRetry = true): Promise<Outcome | 'again'> {
  const { files, expected, source } = a;
  const opened = await openAt(a, mayRetry);
  if ('ok' in opened) return opened;
  const { res, start } = opened;

  const length = Number(res.headers['content-length'] ?? NaN);
  const rawLimit = compressedBound(expected.bytes);
  if (Number.isFinite(length) && start + length > rawLimit) {
    res.destroy();
    files.remove();
    return { ok: false, kind: 'mismatch', reason: `${oversize('the download', rawLimit, expected.limitFrom).message} (it announced ${start + length} bytes)`, progressed: false, oversize: true };
  }
  const partState: PartState = {
    identifier: expected.identifier, location: source.location, bytes: start,
    ...header(res, 'etag', 'etag'), ...header(res, 'last-modified', 'lastModified'),
    ...(Number.isFinite(length) ? { total: start + length } : {}),
  };
  const bar = a.progress(partState.total ?? 0);
  const part = await open(files.part, start > 0 ? 'a' : 'w');
  files.save(partState);
  rmSync(a.temp, { force: true });
  const dispose = removeOnExit(a.temp);
  const verifier = new Verifier(expected.bytes, expected.limitFrom);
  let raw = 0;
  let saved = Date.now();
  const chunks = rawChunks(files.part, start, res, part, Number.isFinite(length) ? length : undefined, { bytes: rawLimit, from: expected.limitFrom }, (n, written) => {
    bar.update(raw += n);
    // Keeps .part.json's count roughly current; resuming trusts the .part file's size.
    if (written !== undefined && Date.now() - saved >= 1000) {
      saved = Date.now();
      files.save({ ...partState, bytes: written });
    }
  });
  let failure: Failure | undefined;
  try {
    const head = await chunks.next();
    const all = (async function* () {
      if (!head.done) yield head.value;
      yield* chunks;
    })();
    const compression = sniffCompression(head.done ? Buffer.alloc(0) : head.value, source.location);
    await pipeline(Readable.from(all, { objectMode: false }), decompressor(compression), verifier, new SparseFileWriter(a.temp));
  } catch (e) {
    rmSync(a.temp, { force: true });
    if (e instanceof NetworkError) {
      files.save({ ...partState, bytes: files.size() });
      failure = { ok: false, kind: 'network', reason: e.message, progressed: files.size() > start };
    } else {
      files.remove();
      if (isStratusError(e, 'STORAGE_FULL')) throw e;
      const reason = isCorruptData(e) ? `checksum mismatch: the compressed data is corrupt (${(e as Error).message})` : (e as Error).message;
      failure = { ok: false, kind: isCorruptData(e) || e instanceof MismatchError ? 'mismatch' : 'refused', reason, progressed: true, ...(e instanceof OversizeError ? { oversize: true as const } : {}) };
    }
  } finally {
    await chunks.return();
    await part.close();
    bar.finish();
    dispose();
  }
  if (!failure) {
    const sha1 = verifier.sha1();
    const verified = expected.sha1 === undefined
      || (sameHex(expected.sha1, sha1) && identifierFromSha1(sha1) === expected.identifier && expected.bytes === verifier.bytes);
    if (verified) {
      chmodSync(a.temp, 0o644);
      renameSync(a.temp, a.output);
      files.remove();
      return { ok: true, sha1, bytes: verifier.bytes };
    }
    rmSync(a.temp, { force: true });
    files.remove();
    failure = {
      ok: false, kind: 'mismatch', progressed: true,
      reason: `checksum mismatch: expected SHA-1 ${expected.sha1 ?? ''} and ${expected.bytes} bytes, got ${sha1} and ${verifier.bytes} bytes`,
    };
  }
  return failure.kind === 'mismatch' && start > 0 && mayRetry ? 'again' : failure;
}

/**
 * Sends the request, with a Range from the end of .part when it holds a prefix of this
 * location, and decides where the answer starts: at .part's end (206 from there), or at 0
 * (200: the server cannot resume or the file changed).
 */
async function openAt(a: Attempt, mayRetry: boolean): Promise<{ res: IncomingMessage; start: number } | Failure> {
  const { files, expected, source } = a;
  const state = files.read(expected.identifier);
  const resume = state && state.location === source.location && state.bytes > 0 ? state : undefined;
  let res: IncomingMessage;
  try {
    res = await source.open(resume?.bytes ?? 0, resume ? validatorOf(resume) : undefined);
  } catch (e) {
    // A refused URL (or redirect) is the caller's answer, not a location that failed.
    if (isStratusError(e, 'URL_REFUSED')) throw e;
    return { ok: false, kind: 'network', reason: (e as Error).message, progressed: false };
  }
  const status = res.statusCode ?? 0;
  if (resume && status === 206 && rangeStart(res) === resume.bytes) {
    a.note(`Resuming ${source.location} at byte ${resume.bytes}`);
    return { res, start: resume.bytes };
  }
  if (resume && (status === 206 || status === 416) && mayRetry) {
    // A range we cannot use: forget the part and fetch the whole file.
    res.destroy();
    files.remove();
    return openAt(a, false);
  }
  if (status !== 200) {
    const reason = await source.failure(res);
    if (resume) files.remove();
    return { ok: false, kind: 'refused', reason, progressed: false };
  }
  if (resume) a.note(`${source.location} did not resume (the file changed or ranges are not supported); starting over`);
  return { res, start: 0 };
}

/**
 * The raw bytes: first the `start` bytes already in .part, then the response, each chunk
 * appended to .part before it is passed on, unless it would take .part past `limit`. Only
 * failures of the response itself become NetworkErrors; a response shorter than its
 * Content-Length is one too.
 */
async function* rawChunks(partPath: string, start: number, res: IncomingMessage, part: FileHandle, length: number | undefined, limit: { bytes: number; from: string | undefined },
  onChunk: (n: number, written?: number) => void): AsyncGenerator<Buffer, void, undefined> {
  if (start > 0) {
    for await (const c of createReadStream(partPath, { start: 0, end: start - 1, highWaterMark: 1024 * 1024 })) {
      onChunk((c as Buffer).length);
      yield c as Buffer;
    }
  }
  const it = res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let received = 0;
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await it.next();
      } catch (e) {
        throw new NetworkError(`connection lost after ${start + received} bytes: ${(e as Error).message}`);
      }
      if (next.done) break;
      if (start + received + next.value.length > limit.bytes) throw oversize('the download', limit.bytes, limit.from);
      for (let off = 0; off < next.value.length;) off += (await part.write(next.value, off)).bytesWritten;
      received += next.value.length;
      onChunk(next.value.length, start + received);
      yield next.value;
    }
    if (length !== undefined && received < length) throw new NetworkError(`connection closed after ${start + received} of ${start + length} bytes`);
  } finally {
    if (!res.complete) res.destroy();
  }
}

/** SHA-1 and byte count of the decompressed content; stops at the chunk that passes the promised size. */
class Verifier extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha1');

  constructor(private readonly limit: number, private readonly from: string | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return cb(oversize('the decompressed image', this.limit, this.from));
    this.hash.update(chunk);
    cb(null, chunk);
  }

  sha1(): string {
    return this.hash.digest('hex');
  }
}

/** Hex SHA-1 values compared as numbers, as StratusLab does (a leading zero may be missing). */
function sameHex(a: string, b: string): boolean {
  return /^[0-9a-f]+$/i.test(a) && /^[0-9a-f]+$/i.test(b) && BigInt('0x' + a) === BigInt('0x' + b);
}

/** If-Range needs a strong ETag; otherwise the Last-Modified date does. */
function validatorOf(s: PartState): string | undefined {
  if (s.etag && !s.etag.startsWith('W/')) return s.etag;
  return s.lastModified;
}

function rangeStart(res: IncomingMessage): number | undefined {
  const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
  return m ? Number(m[1]) : undefined;
}

function header<K extends string>(res: IncomingMessage, name: string, key: K): Partial<Record<K, string>> {
  const v = res.headers[name];
  return typeof v === 'string' ? { [key]: v } as Record<K, string> : {};
}
