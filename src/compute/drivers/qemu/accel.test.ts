import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accelVerdict, bootSector, judgeProbe, probeKvm, PROBE_SECTOR } from './accel.js';
import { QmpClient } from './qmp-client.js';

const here = join(import.meta.dirname, '..', '..', '..', '..', '..', 'src', 'compute', 'drivers', 'qemu');

/** Prints 'A' on COM1, then reports a panic on the ISA pvpanic port (0x505) and halts. */
const PANIC_SECTOR = bootSector('baf803b041ee' + 'ba0505b001ee' + 'f4ebfd');

test('accel-probe.S assembles to the sector the probe boots', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-as-'));
  try {
    execFileSync('as', ['--32', '-o', join(dir, 'p.o'), join(here, 'accel-probe.S')]);
    execFileSync('ld', ['-m', 'elf_i386', '-Ttext', '0x7c00', '--oformat', 'binary', '-o', join(dir, 'p.bin'), join(dir, 'p.o')]);
    assert.deepEqual(readFileSync(join(dir, 'p.bin')), PROBE_SECTOR);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the probe sector runs to the end under TCG: real guest code, every stage on the serial line', async () => {
  const r = await probeKvm({ accel: 'tcg' });
  assert.deepEqual(r, { ok: true, reason: 'guest code ran: mode switches, IRET and a BIOS call' });
});

test('a probe guest that QEMU reports dead (guest-panicked) is not trusted, and the reason says so', async () => {
  const started = Date.now();
  const r = await probeKvm({ accel: 'tcg', sector: PANIC_SECTOR, extraArgs: ['-device', 'pvpanic'] });
  assert.equal(r.ok, false);
  assert.match(r.reason, /QEMU status guest-panicked after printing 'A'/);
  assert.ok(Date.now() - started < 10_000, 'judged at once, not after the probe timeout');
});

test('a probe guest that prints nothing more is judged at the deadline, with what it printed', async () => {
  const r = await probeKvm({ accel: 'tcg', sector: bootSector('baf803b041ee' + 'f4ebfd'), timeoutMs: 4000 });
  assert.equal(r.ok, false);
  assert.match(r.reason, /printed 'A' of 'ABCDF\\n' and then nothing \(QEMU status running\)/);
});

test('internal-error reported through the real QMP client ends the probe at once (the broken-KVM case)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-qmp-'));
  const socket = join(dir, 'qmp.sock');
  // A QMP peer standing in for a QEMU whose KVM hit "emulation failure" after SeaBIOS ran.
  const server = createServer((c) => {
    c.write('{"QMP": {"version": {}, "capabilities": []}}\n');
    c.on('data', (d) => {
      for (const line of d.toString().split('\n').filter(Boolean)) {
        const { execute, id } = JSON.parse(line) as { execute: string; id: number };
        const ret = execute === 'query-status' ? { status: 'internal-error', running: false } : {};
        c.write(JSON.stringify({ return: ret, id }) + '\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  const qmp = await QmpClient.connect(socket);
  try {
    const r = await judgeProbe(qmp, () => 'AB', () => 'KVM internal error. Suberror: 1 … emulation failure', Date.now() + 60_000);
    assert.deepEqual(r, { ok: false, reason: "the guest stopped with QEMU status internal-error after printing 'AB' (KVM internal error. Suberror: 1 … emulation failure)" });
  } finally {
    qmp.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the verdict is kept for the host boot: a recorded one is used, one from another boot is probed again and said once', async () => {
  const cache = mkdtempSync(join(tmpdir(), 'stratus-accel-cache-'));
  const saved = process.env.STRATUS_CACHE_DIR;
  process.env.STRATUS_CACHE_DIR = cache;
  try {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    execFileSync('mkdir', ['-p', join(cache, 'accel')]);
    const file = join(cache, 'accel', `${bootId}.json`);
    writeFileSync(file, JSON.stringify({ accel: 'tcg', reason: 'recorded', bootId, probedAt: 'then' }));
    const said: string[] = [];
    assert.equal((await accelVerdict((l) => said.push(l))).reason, 'recorded', 'no probe when this boot has a verdict');
    assert.equal(said.length, 0);

    writeFileSync(file, JSON.stringify({ accel: 'kvm', reason: 'recorded', bootId: 'another-boot', probedAt: 'then' }));
    const fresh = await accelVerdict((l) => said.push(l));
    assert.notEqual(fresh.reason, 'recorded', 'a verdict from another boot is probed again');
    assert.equal(fresh.bootId, bootId);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), fresh, 'and kept');
    // The reason is said exactly when KVM is not used, and only by the process that probed.
    assert.equal(said.length, fresh.accel === 'tcg' ? 1 : 0);
    if (fresh.accel === 'tcg') assert.match(said[0] ?? '', /KVM not used: .+\. Guests run under TCG/);
    await accelVerdict((l) => said.push(l));
    assert.equal(said.length, fresh.accel === 'tcg' ? 1 : 0, 'not said again');
  } finally {
    if (saved === undefined) delete process.env.STRATUS_CACHE_DIR;
    else process.env.STRATUS_CACHE_DIR = saved;
    rmSync(cache, { recursive: true, force: true });
  }
});
