import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { QemuMachine } from '../../src/compute/drivers/qemu/qemu-process.js';
import { bootSector } from '../../src/compute/drivers/qemu/accel.js';
import { instancePaths } from '../../src/compute/launch.js';
import { tempDir } from '../helpers/tmp.js';
import { bootGuest, qemuProcessesFor, recipeImage, ssh, sshKey } from '../helpers/vm.js';

const dir = tempDir();
const key = sshKey(dir);
const image = await recipeImage('ttylinux');
const instancesDir = join(dir, 'instances');
const boot = (name: string) => bootGuest({
  name, instancesDir, base: { path: image.path, format: 'raw' }, vcpus: 1, memoryMiB: 256, tcgCacheMiB: 64,
  seed: { instanceId: `i-${name}`, hostname: name, sshKeys: [key.publicKey] }, inboundPorts: [],
}, 90_000);

test('a restarted server re-adopts a running VM from its instance directory, and can stop it', async () => {
  const { instance } = await boot('adopt-me');
  const paths = instancePaths(instancesDir, 'adopt-me');
  // What a new server process does: no handle, only the directory.
  instance.machine.qmp.close();
  const adopted = await QemuMachine.adopt({ name: 'adopt-me', qmpSocket: paths.qmpSocket, pidFile: paths.pidFile });
  assert.ok(adopted, 'the running VM is found');
  assert.equal(adopted.pid, instance.machine.pid);
  assert.equal(await adopted.status(), 'running');
  const exit = await adopted.kill();
  assert.equal(exit.reason, 'host-quit');
  assert.deepEqual(qemuProcessesFor('adopt-me'), []);
  assert.equal(await QemuMachine.adopt({ name: 'adopt-me', qmpSocket: paths.qmpSocket, pidFile: paths.pidFile }), undefined, 'a stopped VM is not adopted');
});

test('a pid file that now names another process is not adopted', async () => {
  const paths = instancePaths(instancesDir, 'ghost');
  execFileSync('mkdir', ['-p', paths.dir]);
  execFileSync('sh', ['-c', `echo ${process.pid} > ${paths.pidFile}`]);
  assert.equal(await QemuMachine.adopt({ name: 'ghost', qmpSocket: paths.qmpSocket, pidFile: paths.pidFile }), undefined);
});

test('a QEMU crash is told apart from a power-off', async () => {
  const { instance } = await boot('crashy');
  const exited = instance.machine.waitForExit(30_000);
  process.kill(instance.machine.pid, 'SIGKILL');
  const exit = await exited;
  assert.equal(exit.reason, 'crash');
  assert.equal(exit.signal, 'SIGKILL');
});

test('a disk hot-plugged through QMP appears in the guest and goes away when detached', async () => {
  const { instance } = await boot('hotplug');
  const disk = join(dir, 'data.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  const before = ssh(instance, key.path, 'cat /proc/partitions');
  await instance.machine.attachDisk('data0', disk, 'qcow2');
  let seen = '';
  for (let i = 0; i < 40 && seen === ''; i++) {
    const now = ssh(instance, key.path, 'cat /proc/partitions');
    seen = now.split('\n').filter((l) => !before.includes(l) && /vd[a-z]$/.test(l)).join('');
    if (!seen) await new Promise((r) => setTimeout(r, 500));
  }
  assert.match(seen, /65536 vd[a-z]/, 'a 64 MiB virtio disk showed up');
  await instance.machine.detachDisk('data0', 60_000);
  const after = ssh(instance, key.path, 'cat /proc/partitions');
  assert.doesNotMatch(after, /\s65536 vd/);
  await instance.machine.kill();
});

test('a guest whose QEMU turns guest-panicked is failed within seconds, with the reason and the console, and no QEMU is left', async () => {
  // A disk whose boot sector prints a line and then reports a panic through pvpanic (0x505).
  const disk = join(dir, 'panics.img');
  writeFileSync(disk, Buffer.concat([bootSector('baf803b050ee' + 'b00aee' + 'ba0505b001ee' + 'f4ebfd'), Buffer.alloc(1024 * 1024 - 512)]));
  const started = Date.now();
  await assert.rejects(bootGuest({
    name: 'panics', instancesDir, base: { path: disk, format: 'raw' }, vcpus: 1, memoryMiB: 64,
    seed: { instanceId: 'i-panics', hostname: 'panics' }, inboundPorts: [],
  }, 120_000), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'INSTANCE_FAILED');
    assert.match(e.message, /the guest failed \(QEMU status guest-panicked/);
    assert.match(e.message, /console: P/, 'the console tail is in the message');
    return true;
  });
  assert.ok(Date.now() - started < 30_000, `failed in ${Date.now() - started} ms, not after the 120 s readiness timeout`);
  assert.deepEqual(qemuProcessesFor('panics'), []);
});
