import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InstanceService, vmName } from '../../src/compute/instances.js';
import { HostNetwork, tapName } from '../../src/network/host-network.js';
import type { LaunchedInstance } from '../../src/compute/launch.js';
import { waitForSshBanner } from '../../src/platform/probe.js';
import { openSqlite } from '../../src/storage/database.js';
import { InstanceStore } from '../../src/storage/instances.js';
import type { InstanceRow } from '../../src/storage/instances.js';
import { tempDir } from '../helpers/tmp.js';
import { acquireGuestSlot, qemuProcessesFor, recipeImage, ssh, sshKey } from '../helpers/vm.js';

const dir = tempDir();
const key = sshKey(dir);
const image = await recipeImage('ttylinux');
const database = await openSqlite(join(dir, 'stratus.db'));
const store = new InstanceStore(database);
const instancesDir = join(dir, 'instances');
const tiny = { cpu: 1, ramMiB: 256, swapMiB: 0 };
const service = (shutdownTimeoutMs?: number): InstanceService =>
  new InstanceService({ store, instancesDir, tcgCacheMiB: 64, ...(shutdownTimeoutMs ? { shutdownTimeoutMs } : {}) });
const started: number[] = [];
after(async () => {
  for (const id of started) await service().kill(id).catch(() => undefined);
  for (const id of started) for (const pid of qemuProcessesFor(vmName(id), instancesDir)) process.kill(pid, 'SIGKILL');
  await database.close();
});

async function runOne(svc: InstanceService): Promise<{ row: InstanceRow; guest: LaunchedInstance }> {
  const row = await svc.run({ owner: 'alice', ownerId: 'id-alice', imageRef: 'ttylinux', image: { path: image.path, format: 'raw' }, type: tiny, sshKeys: [key.publicKey], inboundPorts: [] });
  started.push(row.id);
  assert.equal(row.state, 'Running');
  const guest = { address: row.address as string, ports: new Map([[22, 22]]) } as unknown as LaunchedInstance;
  await waitForSshBanner(guest.address, 22, 120_000);
  return { row, guest };
}

async function waitForState(id: number, state: string, timeoutMs: number): Promise<InstanceRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await store.get(id);
    if (row?.state === state) return row;
    if (Date.now() > deadline) throw new Error(`VM ${id} is ${row?.state}, not ${state}, after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('instances: Running with an address; the guest\'s own poweroff gives Unknown holding its disk until kill, which leaves nothing', async () => {
  const release = await acquireGuestSlot();
  try {
    const svc = service();
    const { row, guest } = await runOne(svc);
    assert.match(row.address as string, /^127\.100\.\d+\.\d+$/);
    assert.equal(ssh(guest, key.path, 'hostname').trim(), vmName(row.id));
    ssh(guest, key.path, 'poweroff');
    const unknown = await waitForState(row.id, 'Unknown', 60_000);
    assert.equal(unknown.message, 'the guest powered itself off');
    assert.ok(existsSync(join(instancesDir, vmName(row.id), 'root.qcow2')), 'its disk is held');
    const done = await svc.kill(row.id);
    assert.equal(done.state, 'Done');
    assert.ok(!existsSync(join(instancesDir, vmName(row.id))));
    assert.deepEqual(qemuProcessesFor(vmName(row.id), instancesDir), []);
    assert.deepEqual((await store.list({ owner: 'alice' })).map((r) => r.id).includes(row.id), false, 'Done drops out of the listing');
  } finally {
    release();
  }
});

test('instances: shutdown goes through Shutdown and Epilog to Done; kill of a running one is immediate', async () => {
  const release = await acquireGuestSlot();
  try {
    const svc = service();
    const { row } = await runOne(svc);
    const done = await svc.shutdown(row.id);
    assert.equal(done.state, 'Done');
    assert.deepEqual(qemuProcessesFor(vmName(row.id), instancesDir), []);
    assert.ok(!existsSync(join(instancesDir, vmName(row.id))));
    await assert.rejects(svc.shutdown(row.id), /VM \d+ is not in running state \(it is Done\)/);

    const second = await runOne(svc);
    const t0 = Date.now();
    assert.equal((await svc.kill(second.row.id)).state, 'Done');
    assert.ok(Date.now() - t0 < 15_000, `kill took ${Date.now() - t0} ms`);
    assert.deepEqual(qemuProcessesFor(vmName(second.row.id), instancesDir), []);
  } finally {
    release();
  }
});

test('instances: a guest that ignores the power button is Failed after the timeout, with the reason, and ended', async () => {
  const release = await acquireGuestSlot();
  try {
    const svc = service(8000);
    const { row, guest } = await runOne(svc);
    ssh(guest, key.path, 'killall acpid');
    const failed = await svc.shutdown(row.id);
    assert.equal(failed.state, 'Failed');
    assert.match(failed.message as string, /did not power off within 8 s of the ACPI power button/);
    assert.deepEqual(qemuProcessesFor(vmName(row.id), instancesDir), []);
    assert.ok(!existsSync(join(instancesDir, vmName(row.id))));
  } finally {
    release();
  }
});

test('instances: after the server is killed with SIGKILL, the next one adopts the running instance and can kill it; a launch that fails is Failed and leaves nothing', async () => {
  const release = await acquireGuestSlot();
  try {
    // The first server is a process of its own, so that SIGKILL drops its QMP connection as a
    // real crash does (QEMU's QMP socket serves one client at a time).
    const url = (m: string): string => new URL(m, import.meta.url).href;
    const script = `import { InstanceService } from '${url('../../src/compute/instances.js')}';
import { openSqlite } from '${url('../../src/storage/database.js')}';
import { InstanceStore } from '${url('../../src/storage/instances.js')}';
const db = await openSqlite(${JSON.stringify(join(dir, 'stratus.db'))});
const svc = new InstanceService({ store: new InstanceStore(db), instancesDir: ${JSON.stringify(instancesDir)}, tcgCacheMiB: 64 });
const row = await svc.run({ owner: 'carol', ownerId: 'id-carol', imageRef: 'ttylinux', image: { path: ${JSON.stringify(image.path)}, format: 'raw' }, type: { cpu: 1, ramMiB: 256, swapMiB: 0 }, sshKeys: [], inboundPorts: [] });
console.log(row.id);
setInterval(() => {}, 1000);`;
    const first = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const id = Number(await new Promise<string>((resolve, reject) => {
      first.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()));
      first.once('exit', (code) => reject(new Error(`the first server exited (${code}) before its instance ran`)));
    }));
    started.push(id);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    assert.equal(qemuProcessesFor(vmName(id), instancesDir).length, 1, 'the VM outlived its server');

    const restarted = service();
    await restarted.adopt();
    assert.equal((await store.get(id))?.state, 'Running');
    assert.equal((await restarted.kill(id)).state, 'Done');
    assert.deepEqual(qemuProcessesFor(vmName(id), instancesDir), []);
    assert.ok(!existsSync(join(instancesDir, vmName(id))));

    await assert.rejects(service().run({ owner: 'bob', ownerId: 'id-bob', imageRef: 'missing', image: { path: join(dir, 'no-such.img'), format: 'raw' }, type: tiny, sshKeys: [], inboundPorts: [] }), /does not exist/);
    const failed = (await store.list({ owner: 'bob' }))[0];
    assert.equal(failed?.state, 'Failed');
    assert.match(failed?.message ?? '', /no-such\.img does not exist/);
    assert.ok(!existsSync(join(instancesDir, vmName(failed?.id ?? 0))));
  } finally {
    release();
  }
});

test('instances on the bridge: the instance\'s address is its lease, and kill gives back its TAP and lease (kill once read its own QEMU exit as the guest powering off, leaving Unknown)', async (t) => {
  const release = await acquireGuestSlot();
  const bridge = `sti${randomBytes(3).toString('hex')}`;
  const net = await HostNetwork.open({ stateDir: join(dir, 'net'), bridge, pool: '10.213.0.0/16' });
  t.after(async () => {
    await net.close().catch(() => undefined);
    release();
  });
  const svc = new InstanceService({ store, instancesDir, tcgCacheMiB: 64, network: net });
  const row = await svc.run({ owner: 'alice', ownerId: 'id-alice', imageRef: 'ttylinux', image: { path: image.path, format: 'raw' }, type: tiny, sshKeys: [key.publicKey], inboundPorts: [] });
  started.push(row.id);
  assert.match(row.address as string, /^10\.213\.\d+\.10$/);
  await waitForSshBanner(row.address as string, 22, 120_000);
  const guest = { address: row.address as string, ports: new Map([[22, 22]]) } as unknown as LaunchedInstance;
  assert.match(ssh(guest, key.path, 'ip -4 -o addr show dev eth0'), new RegExp(`inet ${(row.address as string).replace(/\./g, '\\.')}/24`));
  assert.equal(net.ports.length, 1);
  assert.equal((await svc.kill(row.id)).state, 'Done');
  assert.equal(net.ports.length, 0, 'the port went with the instance');
  assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', tapName(bridge, vmName(row.id))], { stdio: 'pipe' }));
});
