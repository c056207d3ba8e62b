import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { run } from './run.js';

/** Read size for data extents: large reads, few round trips to the thread pool. */
const CHUNK = 4 * 1024 * 1024;
/** One buffer of zeros, handed out (never written) for every hole and zero cluster. */
const ZEROS = Buffer.alloc(CHUNK);

/** One extent of `qemu-img map --output=json`. */
interface Extent {
  start: number;
  length: number;
  depth: number;
  zero: boolean;
  data: boolean;
  offset?: number;
}

interface Layer {
  filename: string;
  format: string;
  encrypted?: boolean;
  'format-specific'?: { data?: Record<string, unknown> };
}

/**
 * The guest-visible (raw) bytes of a qcow2 image and its backing chain, streamed straight from
 * the files: `qemu-img map` says, for each extent, whether it reads as zeros or which layer
 * holds it at which offset (what qemu-img(1) documents for rebuilding an image with dd). So
 * the bytes are read once, with no temporary raw copy, and holes cost no read at all.
 *
 * Undefined when the chain holds anything whose offsets do not address plain bytes
 * (compressed clusters, encryption, an external data file): the caller then converts with
 * qemu-img instead. The image must not be in use (no -U): its map would change under us.
 */
export async function openRawChain(path: string, timeoutMs = 600_000): Promise<Readable | undefined> {
  const chain = await rawChain(path, timeoutMs);
  return chain ? Readable.from(chain.bytes(), { objectMode: false, highWaterMark: CHUNK }) : undefined;
}

/** What `qemu-img map` says of a chain: its guest size, the ranges holding data, and its bytes in order. */
export interface RawChain {
  size: number;
  /** The byte ranges that are not known to read as zeros, increasing. */
  data: Array<{ start: number; length: number }>;
  /** The guest-visible bytes, front to back (holes as shared zero buffers: read, never write them). */
  bytes(): AsyncGenerator<Buffer>;
}

/** The chain of `path` as openRawChain reads it, or undefined when its map cannot be read straight (see there). */
export async function rawChain(path: string, timeoutMs = 600_000): Promise<RawChain | undefined> {
  const full = resolve(path);
  const chain = JSON.parse((await run('qemu-img', ['info', '--backing-chain', '--output=json', full], { cwd: dirname(full), timeoutMs })).stdout) as Layer[];
  if (chain.some((l) => l.encrypted || (l.format !== 'raw' && l.format !== 'qcow2') || l['format-specific']?.data?.['data-file'] !== undefined)) return undefined;
  const map = JSON.parse((await run('qemu-img', ['map', '--output=json', '-f', chain[0]?.format ?? 'qcow2', full], { cwd: dirname(full), timeoutMs })).stdout) as Extent[];
  let at = 0;
  for (const e of map) {
    // Contiguous from 0, each data extent at a known offset of a known layer.
    if (e.start !== at || !(e.length > 0)) return undefined;
    if (e.data && !e.zero && (e.offset === undefined || chain[e.depth] === undefined)) return undefined;
    at += e.length;
  }
  const files = chain.map((l) => resolve(dirname(full), l.filename));
  return {
    size: at,
    data: map.filter((e) => e.data && !e.zero).map((e) => ({ start: e.start, length: e.length })),
    bytes: () => extents(map, files),
  };
}

async function* extents(map: Extent[], files: string[]): AsyncGenerator<Buffer> {
  const handles = new Map<number, FileHandle>();
  try {
    for (const e of map) {
      let left = e.length;
      if (!e.data || e.zero) {
        while (left > 0) {
          const n = Math.min(CHUNK, left);
          yield ZEROS.subarray(0, n);
          left -= n;
        }
        continue;
      }
      let handle = handles.get(e.depth);
      if (!handle) {
        handle = await open(files[e.depth] as string, 'r');
        handles.set(e.depth, handle);
      }
      let position = e.offset as number;
      while (left > 0) {
        const n = Math.min(CHUNK, left);
        const buf = Buffer.allocUnsafe(n);
        const { bytesRead } = await handle.read(buf, 0, n, position);
        // The map promised these bytes: a shorter file changed under us.
        if (bytesRead !== n) throw new Error(`${files[e.depth] as string} ended at ${position + bytesRead}, inside an extent its map lists`);
        yield buf;
        position += n;
        left -= n;
      }
    }
  } finally {
    for (const h of handles.values()) await h.close();
  }
}
