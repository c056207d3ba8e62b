import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SparseFileWriter } from './sparse-writer.js';
import { tempDir } from '../../test/helpers/tmp.js';

const KIB = 1024;
const dir = tempDir('stratus-sparse-');
let n = 0;

function noise(length: number, seed: number): Buffer {
  const c = createCipheriv('aes-256-ctr', createHash('sha256').update(String(seed)).digest(), Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(length)), c.final()]);
}

/** Data, zero runs that do and do not line up with 64 KiB blocks, an odd tail of zeros. */
const image = Buffer.concat([
  noise(100 * KIB, 1), Buffer.alloc(300 * KIB), noise(1, 2), Buffer.alloc(64 * KIB), noise(64 * KIB, 3), Buffer.alloc(256 * KIB), noise(7, 4), Buffer.alloc(200 * KIB + 3),
]);

function chunks(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < data.length; k++) {
    const size = sizes[k % sizes.length] as number;
    out.push(data.subarray(i, i + size));
    i += size;
  }
  return out;
}

for (const [name, sizes] of [
  ['one byte, then odd sizes', [1, 4095, 16 * KIB, 100_003]],
  ['16 KiB (gunzip default)', [16 * KIB]],
  ['1 MiB', [1024 * KIB]],
  ['the whole image at once', [image.length]],
] as Array<[string, number[]]>) {
  test(`SparseFileWriter, chunks of ${name}: same bytes, same length, zero blocks left as holes`, async () => {
    const path = join(dir, `f${n++}`);
    const w = new SparseFileWriter(path, false);
    await pipeline(Readable.from(chunks(image, sizes)), w);
    assert.equal(w.bytes, image.length);
    assert.ok(readFileSync(path).equals(image));
    const used = statSync(path).blocks * 512;
    assert.ok(used <= image.length - 512 * KIB, `${used} bytes allocated for ${image.length}`);
  });
}

test('SparseFileWriter takes chunks queued during a write together (_writev), durable', async () => {
  const path = join(dir, `f${n++}`);
  const w = new SparseFileWriter(path, true);
  w.cork();
  for (const c of chunks(image, [16 * KIB, 3 * KIB])) w.write(c);
  process.nextTick(() => w.uncork());
  await new Promise<void>((resolve, reject) => w.end((e?: Error | null) => (e ? reject(e) : resolve())));
  assert.ok(readFileSync(path).equals(image));
});

test('SparseFileWriter of nothing, and of zeros only', async () => {
  const empty = join(dir, `f${n++}`);
  await pipeline(Readable.from([]), new SparseFileWriter(empty, false));
  assert.equal(statSync(empty).size, 0);
  const zeros = join(dir, `f${n++}`);
  await pipeline(Readable.from([Buffer.alloc(5 * 64 * KIB + 10)]), new SparseFileWriter(zeros, false));
  assert.equal(statSync(zeros).size, 5 * 64 * KIB + 10);
  assert.ok(statSync(zeros).blocks * 512 <= 64 * KIB);
});

test('SparseFileWriter refuses to overwrite a file', async () => {
  const path = join(dir, `f${n++}`);
  await pipeline(Readable.from([Buffer.from('x')]), new SparseFileWriter(path, false));
  await assert.rejects(pipeline(Readable.from([Buffer.from('y')]), new SparseFileWriter(path, false)), /EEXIST/);
});
