import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchInstance } from '../../src/compute/launch.js';
import { buildImage } from '../../src/images/builder.js';
import { loadRecipe } from '../../src/images/recipe.js';
import { isStratusError } from '../../src/domain/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { qemuProcessesFor, recipeImage, sshKey } from '../helpers/vm.js';
import { repoRoot } from '../helpers/paths.js';

const dir = tempDir();
const key = sshKey(dir);
const instancesDir = join(dir, 'instances');
const seed = (name: string) => ({ instanceId: `i-${name}`, hostname: name, sshKeys: [key.publicKey] });

test('a corrupt raw image is refused before boot, with the reason, and leaves no instance and no QEMU', async () => {
  const bad = join(dir, 'corrupt.img');
  writeFileSync(bad, randomBytes(4 * 1024 * 1024));
  await assert.rejects(
    launchInstance({ name: 'bad-raw', instancesDir, base: { path: bad, format: 'raw' }, vcpus: 1, memoryMiB: 128, seed: seed('bad-raw'), inboundPorts: [] }),
    (e) => isStratusError(e, 'IMAGE_NOT_READABLE') && /not a bootable disk: it has no boot sector/.test(e.message));
  assert.equal(existsSync(join(instancesDir, 'bad-raw')), false);
  assert.deepEqual(qemuProcessesFor('bad-raw'), []);
});

test('a truncated qcow2 image is refused with qemu-img\'s reason', async () => {
  const image = await recipeImage('ttylinux');
  const q = join(dir, 'broken.qcow2');
  const { execFileSync } = await import('node:child_process');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', image.path, q]);
  const bytes = readFileSync(q);
  writeFileSync(q, bytes.subarray(0, 200_000));
  await assert.rejects(
    launchInstance({ name: 'bad-qcow', instancesDir, base: { path: q, format: 'qcow2' }, vcpus: 1, memoryMiB: 128, seed: seed('bad-qcow'), inboundPorts: [] }),
    (e) => isStratusError(e, 'IMAGE_NOT_READABLE') && /not a sound qcow2 disk/.test(e.message));
  assert.deepEqual(qemuProcessesFor('bad-qcow'), []);
});

test('a seed over the size limit is refused before anything is created', async () => {
  const image = await recipeImage('ttylinux');
  await assert.rejects(
    launchInstance({ name: 'big-seed', instancesDir, base: { path: image.path, format: 'raw' }, vcpus: 1, memoryMiB: 128,
      seed: { ...seed('big-seed'), userData: randomBytes(64 * 1024).toString('base64') }, inboundPorts: [] }),
    (e) => isStratusError(e, 'CONTEXT_TOO_LARGE') && /gzipped, over the limit of 16384/.test(e.message));
  assert.equal(existsSync(join(instancesDir, 'big-seed')), false);
  assert.deepEqual(qemuProcessesFor('big-seed'), []);
});

test('a recipe whose kernel is missing fails with a clear error and leaves no build behind', async () => {
  const recipes = join(dir, 'recipes');
  cpSync(join(repoRoot, 'recipes'), recipes, { recursive: true });
  const file = join(recipes, 'ttylinux', 'recipe.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), kernel: 'linux-image-stratus-missing-amd64' }));
  const cache = join(dir, 'cache');
  process.env.STRATUS_CACHE_DIR = cache;
  try {
    await assert.rejects(buildImage(loadRecipe(recipes, 'ttylinux'), { force: true }),
      (e) => isStratusError(e, 'TOOL_FAILED') && /no kernel: package linux-image-stratus-missing-amd64 is not in the archive/.test(e.message));
  } finally {
    delete process.env.STRATUS_CACHE_DIR;
  }
  assert.deepEqual(readdirSync(join(cache, 'images', 'ttylinux')), [], 'no half-built image is left in the cache');
});
