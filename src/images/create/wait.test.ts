import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStratusError } from '../../domain/errors.js';
import type { InstanceInfo } from '../../domain/instance-wire.js';
import type { InstanceState } from '../../domain/instance.js';
import { waitForLogin, waitForNetwork, waitForRunning } from './wait.js';
import type { Clock } from './wait.js';
import type { Remote } from './remote.js';

function vm(state: InstanceState, message: string | null = null): InstanceInfo {
  return {
    id: 7, name: 'creator: x', owner: 'alice', state, message, image: 'x', disk: null, type: 'm1.small', cpu: 1, ramMiB: 256, swapMiB: 0,
    address: '192.0.2.7', memoryKiB: 0, cpuPercent: 0, vnc: null, created: '', updated: '',
  };
}

/** A clock whose sleeps only move time on. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return { slept, now: () => now, sleep: async (ms) => { slept.push(ms); now += ms; } };
}

function dots(): { dot(): void; dotsDone(): void; line: string } {
  const d = { line: '', dot: () => { d.line += '.'; }, dotsDone: () => { d.line += '\n'; } };
  return d;
}

test('boot: a dot per poll until Running; the line of dots always ends', async () => {
  const states: InstanceState[] = ['Pending', 'Prolog', 'Boot', 'Running'];
  const d = dots();
  const got = await waitForRunning(async () => vm(states.shift() as InstanceState), vm('Pending'), 600, d, fakeClock());
  assert.equal(got.state, 'Running');
  assert.equal(d.line, '....\n');
});

test('boot: StratusLab\'s two failures, a Failed VM with its reason and a timeout naming the seconds, id and ip', async () => {
  await assert.rejects(waitForRunning(async () => vm('Failed', 'no bootable device'), vm('Pending'), 600, dots(), fakeClock()),
    (e) => isStratusError(e, 'INSTANCE_FAILED') && e.message === 'Failed to start VM (id=7, ip=192.0.2.7): no bootable device');
  const d = dots();
  await assert.rejects(waitForRunning(async () => vm('Boot'), vm('Pending'), 10, d, fakeClock()),
    (e) => isStratusError(e, 'INSTANCE_FAILED') && e.message === 'Failed to start VM within 10 seconds (id=7, ip=192.0.2.7)');
  assert.match(d.line, /^\.+\n$/);
});

test('network: an SSH banner ends the wait; an open port that says nothing (QEMU\'s forward) does not', async () => {
  const answers = [undefined, 'HTTP/1.0 400', undefined, 'SSH-2.0-dropbear'];
  const d = dots();
  await waitForNetwork(async () => answers.shift(), async () => vm('Running'), vm('Running'), 300, d, fakeClock());
  assert.equal(d.line, '....\n');
});

test('network: StratusLab\'s timeout message; a VM that stopped fails at once with its state', async () => {
  await assert.rejects(waitForNetwork(async () => undefined, async () => vm('Running'), vm('Running'), 5, dots(), fakeClock()),
    (e) => isStratusError(e, 'INSTANCE_FAILED') && e.message === 'Unable to ping VM in 5 seconds (id=7, ip=192.0.2.7)');
  await assert.rejects(waitForNetwork(async () => undefined, async () => vm('Failed', 'guest panicked'), vm('Running'), 300, dots(), fakeClock()),
    (e) => isStratusError(e, 'INSTANCE_FAILED') && e.message === 'Failed to start VM (id=7, ip=192.0.2.7): guest panicked');
});

test('login: `ssh root@ip true` every 6 s, 40 tries, then the last thing ssh said', async () => {
  let calls = 0;
  const remote = (ok: number): Remote => ({
    run: async (command) => { assert.equal(command, 'true'); calls++; return calls >= ok ? { code: 0, tail: [] } : { code: 255, tail: ['Permission denied (publickey).'] }; },
    copy: async () => undefined,
  });
  const clock = fakeClock();
  await waitForLogin(remote(3), vm('Running'), clock);
  assert.deepEqual(clock.slept, [6000, 6000]);
  calls = 0;
  await assert.rejects(waitForLogin(remote(100), vm('Running'), fakeClock()),
    (e) => isStratusError(e, 'INSTANCE_FAILED') && e.message === 'Unable to connect to VM (id=7, ip=192.0.2.7) as root over SSH after 40 tries: Permission denied (publickey).');
  assert.equal(calls, 40);
});
