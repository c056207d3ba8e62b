/**
 * Decompression bombs for the limit tests, made in the test and never stored: zeros streamed
 * through gzip (or bzip2) once into one small member, which is then repeated as the bomb is
 * read. gzip and bzip2 both inflate concatenated members as one stream. Deflate cannot
 * compress more than about 1032:1, so 100 GiB of zeros is about 100 MiB of gzip; bzip2 packs
 * the same into kilobytes.
 */
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';

const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

export interface Bomb {
  /** Inflated size. */
  inflated: number;
  /** Compressed size. */
  size: number;
  /** The compressed bytes, made as they are read. */
  chunks(): AsyncGenerator<Buffer, void, undefined>;
}

/** `memberZeros` zero bytes, 1 MiB at a time, as a stream. */
function zeros(memberZeros: number): Readable {
  let left = memberZeros;
  const block = Buffer.alloc(MIB);
  return new Readable({
    read() {
      const n = Math.min(left, MIB);
      left -= n;
      this.push(n > 0 ? block.subarray(0, n) : null);
    },
  });
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c);
  return Buffer.concat(parts);
}

/** A stream of `member` repeated until it stands for `inflated` bytes of zeros. */
function repeat(member: Buffer, memberZeros: number, inflated: number): Bomb {
  const count = Math.ceil(inflated / memberZeros);
  return {
    inflated: count * memberZeros,
    size: count * member.length,
    async *chunks() {
      for (let i = 0; i < count; i++) yield member;
    },
  };
}

/** A gzip stream that inflates to `inflated` bytes of zeros (64 MiB members, gzip -9). */
export async function gzipBomb(inflated: number, memberZeros = 64 * MIB): Promise<Bomb> {
  const member = await collect(zeros(memberZeros).pipe(createGzip({ level: 9 })));
  return repeat(member, memberZeros, inflated);
}

/** A bzip2 stream that inflates to `inflated` bytes of zeros (256 MiB members, bzip2 -9). */
export async function bzip2Bomb(inflated: number, memberZeros = 256 * MIB): Promise<Bomb> {
  const child = spawn('bzip2', ['-9', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
  zeros(memberZeros).pipe(child.stdin);
  const [member, code] = await Promise.all([collect(child.stdout), new Promise((resolve) => child.on('close', resolve))]);
  if (code !== 0) throw new Error(`bzip2 exited with ${String(code)}`);
  return repeat(member, memberZeros, inflated);
}

/** A stream of empty gzip members, `size` bytes in all: valid gzip that inflates to nothing. */
export function emptyGzipMembers(size: number): Bomb {
  // The smallest gzip member: header, an empty final stored block, CRC-32 and length (both 0).
  const member = Buffer.from('1f8b080000000000000303000000000000000000', 'hex');
  const perChunk = Math.floor(MIB / member.length);
  const chunk = Buffer.concat(Array.from({ length: perChunk }, () => member));
  const count = Math.ceil(size / chunk.length);
  return {
    inflated: 0,
    size: count * chunk.length,
    async *chunks() {
      for (let i = 0; i < count; i++) yield chunk;
    },
  };
}
