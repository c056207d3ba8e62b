/**
 * The instance layer cache through a real `stratus serve` and the LayerClient: layers frozen
 * from running QEMU instances over QMP (stop, copy, cont), runs that start from them, the rules
 * on removing them, and a server killed with a guest left paused. The guests boot a disk whose
 * boot sector writes itself to the disk through the BIOS and halts (test/helpers/halt-disk.ts):
 * real QEMU and real disk writes, no OS and no guest slot. A guest whose disk started as a
 * layer writes to another sector, which is how the test sees that it did.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import { isStratusError } from '../../src/domain/errors.js';
import type { ErrorCode } from '../../src/domain/errors.js';
import { LayerClient } from '../../src/client/layer-client.js';
import { QmpClient } from '../../src/compute/drivers/qemu/qmp-client.js';
import { addAccount } from '../helpers/cloud.js';
import { haltOrigin, until, writerDisk, writerMarks, writerOrigin } from '../helpers/halt-disk.js';
import { streamOf } from '../helpers/pdisk.js';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import { startServerProcess } from '../helpers/server.js';
import type { ServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ADMIN = { username: 'admin', password: 'admin-layers-password' };
const ALICE = { username: 'alice', password: 'alice-layers-password' };
const work = tempDir('stratus-layers-api-');
const dataDir = join(work, 'data');
let server: ServerProcess = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
await addAccount(server.url, ADMIN, ALICE.username, ALICE.password);
const writer = await writerOrigin(server.url, ALICE);
const halt = await haltOrigin(server.url, ALICE);
const client = (): LayerClient => new LayerClient(server.url, ALICE);
const key = (): string => randomBytes(32).toString('hex');
const disk = (vm: InstanceInfo): { path: string; format: 'qcow2' } => ({ path: join(dataDir, 'volumes', `${vm.disk as string}.qcow2`), format: 'qcow2' });
const layerFiles = (): string[] => (existsSync(join(dataDir, 'layers')) ? readdirSync(join(dataDir, 'layers')).flatMap((d) => readdirSync(join(dataDir, 'layers', d)).map((f) => join(dataDir, 'layers', d, f))) : []);

async function run(image: string, layer?: string): Promise<InstanceInfo> {
  const [vm] = await client().runInstances({ image, cpu: 1, ramMiB: 32, ...(layer ? { layer } : {}) });
  assert.equal(vm?.state, 'Running');
  return vm as InstanceInfo;
}

async function refused(code: ErrorCode, work: () => Promise<unknown>, message?: RegExp): Promise<void> {
  await assert.rejects(work, (e: unknown) => isStratusError(e, code) && (!message || message.test(e.message)));
}

function qemus(): number[] {
  try {
    return execFileSync('pgrep', ['-f', `${dataDir}/instances/`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('a layer frozen from a running instance holds what its guest wrote; an instance started from it begins there; it goes only once no live instance started from it', async (t) => {
  const ids: number[] = [];
  t.after(async () => {
    for (const id of ids) await client().killInstance(id).catch(() => undefined);
  });
  const a = await run(writer);
  ids.push(a.id);
  await until('the first guest wrote sector 3', async () => (await writerMarks(disk(a))).first);
  const k = key();
  assert.equal(await client().hasLayer(k), false);
  const saved = await client().savedLayer(a.id, k);
  assert.equal(await client().hasLayer(k), true);
  const info = await client().layer(k);
  assert.deepEqual({ key: info.key, bytes: info.bytes }, saved);
  const [file] = layerFiles();
  assert.ok(file, 'one layer file');
  assert.equal(statSync(file).size, saved.bytes);
  assert.ok(saved.bytes < 1024 * 1024, `a delta over the 1 MiB origin: ${saved.bytes} bytes`);
  assert.deepEqual(await writerMarks({ path: file, format: 'qcow2' }), { first: true, second: false });
  // Saved again (a replace): the guest had to be running again, as a paused one is refused.
  await client().saveLayer(a.id, k);
  assert.equal(layerFiles().length, 1, 'the replaced layer\'s file went');
  assert.equal((await client().instance(a.id)).state, 'Running');

  const b = await run(writer, k);
  ids.push(b.id);
  assert.notEqual(b.disk, a.disk);
  await until('the second guest found the layer\'s sector 3 and wrote sector 4', async () => (await writerMarks(disk(b))).second);
  await refused('LAYER_IN_USE', () => client().deleteLayer(k), /a live instance was started from it/);
  await client().killInstance(b.id);
  await client().deleteLayer(k);
  assert.equal(await client().hasLayer(k), false);
  await refused('LAYER_NOT_FOUND', () => client().layer(k));
  await refused('LAYER_NOT_FOUND', () => client().deleteLayer(k));
  assert.deepEqual(layerFiles(), []);

  const k2 = key();
  await client().saveLayer(a.id, k2);
  const before = await client().listInstances();
  await refused('LAYER_NOT_FOUND', () => run(writer, key()), /no layer/);
  await refused('LAYER_MISMATCH', () => run(halt, k2), /was made over another base image/);
  await refused('LAYER_INVALID', () => run(writer, '../../etc'));
  assert.deepEqual(await client().listInstances(), before, 'refused runs make no instance');
  await client().killInstance(a.id);
  await refused('INSTANCE_STATE', () => client().saveLayer(a.id, key()), /is not in running state/);
  await refused('INSTANCE_NOT_FOUND', () => client().saveLayer(999999, key()));
  await client().deleteLayer(k2);
  assert.deepEqual(qemus(), [], 'no QEMU left');
});

test('a volume that boots as it is has no layer to keep, nor starts from one; the client tells a missing layer from a refusal', async (t) => {
  const bytes = writerDisk();
  bytes[0x100] = 1; // not the writer origin's content, which alice holds already
  const gz = gzipSync(bytes);
  const live = await new PdiskClient(server.url, ALICE).upload(streamOf(gz), { gzipped: true, size: gz.length, type: 'MACHINE_IMAGE_LIVE', tag: 'as it is' });
  const vm = await run(live.uuid);
  t.after(async () => {
    await client().killInstance(vm.id).catch(() => undefined);
  });
  await refused('LAYER_MISMATCH', () => client().saveLayer(vm.id, key()), /boots a volume as it is/);
  await client().killInstance(vm.id);
  const source = await run(writer);
  const k = key();
  await client().saveLayer(source.id, k);
  await client().killInstance(source.id);
  await refused('LAYER_MISMATCH', () => run(live.uuid, k), /boots as it is/);
  await refused('LAYER_INVALID', () => client().hasLayer('../../etc'));
  await refused('AUTH_REQUIRED', () => new LayerClient(server.url, { username: 'alice', password: 'wrong-password' }).hasLayer(k));
  assert.equal(await new LayerClient(server.url, ADMIN).hasLayer(k), false, 'the admin has no layer of alice\'s key: layers are each account\'s own');
  await client().deleteLayer(k);
});

test('a guest left paused by a server killed during a freeze runs again under the next server, and the unfinished layer file goes', async (t) => {
  const a = await run(writer);
  t.after(async () => {
    await client().killInstance(a.id).catch(() => undefined);
  });
  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));
  // What the killed server had done: QMP stop, and half a layer written.
  const qmp = await QmpClient.connect(join(dataDir, 'instances', `one-${a.id}`, 'qmp.sock'));
  await qmp.execute('stop');
  assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'paused');
  qmp.close();
  const owner = join(dataDir, 'layers', 'unfinished-owner');
  mkdirSync(owner, { recursive: true });
  writeFileSync(join(owner, 'half.tmp'), 'half a layer');

  server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
  assert.match(server.log(), /Instance layers: removed 1 unfinished/);
  assert.equal(existsSync(join(owner, 'half.tmp')), false);
  assert.equal((await client().instance(a.id)).state, 'Running');
  // A freeze needs a running guest: this one works only if the new server let it go on.
  const k = key();
  await client().saveLayer(a.id, k);
  await client().killInstance(a.id);
  await client().deleteLayer(k);
});
