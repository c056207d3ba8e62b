import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QemuMachine, qemuComplaint } from './qemu-process.js';

test('qemuComplaint keeps the message lines of a KVM internal error, not its register dump', () => {
  const out = 'KVM internal error. Suberror: 1\nextra data[0]: 0x0000000000000001\nextra data[1]: 0x9090\nemulation failure\nEAX=00000003 EBX=00000000\nCode=d8 8e <cf> b0\n';
  assert.equal(qemuComplaint(out), 'KVM internal error. Suberror: 1 … emulation failure');
  assert.equal(qemuComplaint(''), '');
  assert.equal(qemuComplaint('qemu-system-x86_64: -accel kvm: failed to initialize kvm\n'), 'qemu-system-x86_64: -accel kvm: failed to initialize kvm');
});

/**
 * The broken-KVM case without a broken KVM: a process that passes for instance `name`'s QEMU
 * (its command line names it) and a QMP peer on its socket that, once the machine is adopted,
 * sends STOP and then reports the run state `internal-error`, as QEMU does when KVM cannot
 * emulate the guest's first instructions. The events go through the real QMP client.
 */
test('a machine whose QEMU reports internal-error is failed at once: exit "failed" with the reason, QEMU ended', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-dead-'));
  const name = 'dead-state';
  const qmpSocket = join(dir, 'qmp.sock');
  const pidFile = join(dir, 'qemu.pid');
  const log = join(dir, 'qemu.log');
  writeFileSync(log, 'KVM internal error. Suberror: 1\nextra data[0]: 0x1\nemulation failure\nEAX=00000003\n');
  const fake = spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 300000)', `${name},process=stratus-${name}`], { stdio: 'ignore' });
  writeFileSync(pidFile, String(fake.pid));
  // until exec, /proc shows the forked node's command line
  while (!readFileSync(`/proc/${fake.pid}/cmdline`, 'utf8').includes(`${name},process=`)) await new Promise((r) => setTimeout(r, 10));
  const exited = new Promise<NodeJS.Signals | null>((r) => fake.once('exit', (_c, s) => r(s)));
  let status = 'running';
  let peer: Socket | undefined;
  const server = createServer((c) => {
    peer = c;
    c.write('{"QMP": {"version": {}, "capabilities": []}}\n');
    c.on('data', (d) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        const { execute, id } = JSON.parse(line) as { execute: string; id: number };
        c.write(JSON.stringify({ return: execute === 'query-status' ? { status, running: status === 'running' } : {}, id }) + '\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(qmpSocket, r));
  try {
    const machine = await QemuMachine.adopt({ name, qmpSocket, pidFile }, log);
    assert.ok(machine, 'adopted');
    const started = Date.now();
    status = 'internal-error';
    peer?.write('{"event": "STOP", "data": {}, "timestamp": {"seconds": 0, "microseconds": 0}}\n');
    const exit = await machine.waitForExit(20_000);
    assert.equal(exit.reason, 'failed');
    assert.equal(exit.detail, 'QEMU status internal-error: KVM internal error. Suberror: 1 … emulation failure');
    assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);
    assert.equal(await exited, 'SIGKILL', 'the paused QEMU (which ignored quit) was killed, not left behind');
  } finally {
    fake.kill('SIGKILL');
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
