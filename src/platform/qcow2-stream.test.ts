import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, writeSync, readFileSync, rmSync, writeFileSync, ftruncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawChain } from './raw-reader.js';
import { qcow2Stream } from './qcow2-stream.js';
import { CLUSTER, clustersOf, qcow2Layout } from './qcow2-layout.js';

const dir = mkdtempSync(join(tmpdir(), 'stratus-qcow2-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const qemuImg = (args: string[]): string => execFileSync('qemu-img', args, { encoding: 'utf8', cwd: dir });

/** A sparse raw base with data at odd places, a qcow2 overlay over it written here and there. */
function chainOf(name: string, size: number, writes: Array<[number, number]>, overlayWrites: Array<[number, number]>): string {
  const base = join(dir, `${name}.raw`);
  const fd = openSync(base, 'w');
  ftruncateSync(fd, size);
  for (const [at, len] of writes) writeSync(fd, randomBytes(len), 0, len, at);
  closeSync(fd);
  const overlay = join(dir, `${name}.qcow2`);
  qemuImg(['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', overlay]);
  for (const [at, len] of overlayWrites) execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x${randomBytes(1).toString('hex')} ${at} ${len}`, overlay], { stdio: 'ignore' });
  return overlay;
}

async function standalone(overlay: string, out: string): Promise<string> {
  const chain = await rawChain(overlay);
  assert.ok(chain);
  const parts: Buffer[] = [];
  for await (const b of qcow2Stream(chain.bytes(), chain.size, clustersOf(chain.data))) parts.push(Buffer.from(b));
  const bytes = Buffer.concat(parts);
  writeFileSync(out, bytes);
  assert.equal(bytes.length, qcow2Layout(chain.size, clustersOf(chain.data)).fileSize);
  return createHash('sha1').update(bytes).digest('hex');
}

for (const [name, size, writes, overlayWrites] of [
  ['aligned', 8 * 1024 * 1024, [[0, 4096], [3 * CLUSTER + 512, 70_000]], [[1024 * 1024, 200_000]]],
  ['odd size, data in the last partial cluster', 5 * 1024 * 1024 + 4096 + 512, [[5 * 1024 * 1024, 4096 + 512]], [[512, 512]]],
  ['empty', 1024 * 1024, [], []],
  ['over 512 MiB: several L2 tables', 1300 * 1024 * 1024, [[0, 65536], [600 * 1024 * 1024, 4096]], [[1200 * 1024 * 1024, 1024 * 1024]]],
] as Array<[string, number, Array<[number, number]>, Array<[number, number]>]>) {
  test(`a standalone qcow2 streamed in one pass reads as its source, and qemu-img check finds nothing wrong: ${name}`, async () => {
    const overlay = chainOf(name.replace(/\W+/g, '-'), size, writes, overlayWrites);
    const out = join(dir, `${name.replace(/\W+/g, '-')}.out.qcow2`);
    const sha1 = await standalone(overlay, out);
    qemuImg(['check', '-f', 'qcow2', out]);
    qemuImg(['compare', '-f', 'qcow2', '-F', 'qcow2', overlay, out]);
    const info = JSON.parse(qemuImg(['info', '--output=json', out])) as { 'virtual-size': number; 'backing-filename'?: string; format: string };
    assert.deepEqual([info.format, info['virtual-size'], info['backing-filename']], ['qcow2', size, undefined]);
    assert.equal(createHash('sha1').update(readFileSync(out)).digest('hex'), sha1);
    assert.ok(statSync(out).size < size || name === 'empty' || size < 2 * 1024 * 1024, 'only the stored clusters take room');
  });
}

test('the layout refuses clusters out of order or past the end', () => {
  assert.throws(() => qcow2Layout(CLUSTER * 4, [1, 1]), /increasing/);
  assert.throws(() => qcow2Layout(CLUSTER * 4, [4]), /below 4/);
  assert.throws(() => qcow2Layout(0, []), /positive size/);
});
