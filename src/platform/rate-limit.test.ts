import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlidingWindow, addressKey } from './rate-limit.js';
import { Semaphore } from './semaphore.js';
import { isStratusError } from '../domain/errors.js';

test('SlidingWindow: `limit` events per window, then the wait until the oldest one leaves it', () => {
  let now = 1_000;
  const w = new SlidingWindow(3, 60_000, () => now);
  for (let i = 0; i < 3; i++) {
    assert.equal(w.waitMs('a'), 0);
    w.record('a');
    now += 1_000;
  }
  assert.equal(w.waitMs('a'), 57_000, 'the first event (at 1 s) leaves the window at 61 s; it is 4 s now');
  assert.equal(w.waitMs('b'), 0, 'keys are apart');
  now += 57_000;
  assert.equal(w.waitMs('a'), 0);
});

test('SlidingWindow: a taken-back event does not count, and unused keys are forgotten', () => {
  let now = 0;
  const w = new SlidingWindow(1, 1_000, () => now);
  const undo = w.record('a');
  assert.ok(w.waitMs('a') > 0);
  undo();
  assert.equal(w.waitMs('a'), 0);
  assert.equal(w.size, 0);
  w.record('b');
  now += 2_000;
  assert.equal(w.waitMs('b'), 0);
  assert.equal(w.size, 0, 'expired keys leave the map');
});

test('SlidingWindow: a flood of distinct keys stays within maxKeys', () => {
  const w = new SlidingWindow(5, 60_000, () => 0, 100);
  for (let i = 0; i < 10_000; i++) w.record(`k${i}`);
  assert.ok(w.size <= 100, `${w.size} keys held`);
});

test('a limit of 0 never waits (the feature is off)', () => {
  const w = new SlidingWindow(0, 1_000);
  w.record('a');
  assert.equal(w.waitMs('a'), 0);
});

test('addressKey: IPv4 as is (also IPv4-mapped), IPv6 by its /64', () => {
  assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(addressKey('2001:db8:1:2:3:4:5:6'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2::9'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0db8:0001:0002:ffff::1'), '2001:db8:1:2::/64', 'leading zeros do not make another key');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey(undefined), 'unknown');
});

test('Semaphore: at most `slots` run, the next waiter gets a freed slot, and a full queue is refused at once', async () => {
  const s = new Semaphore(2, 1, 'jobs');
  const gates: Array<() => void> = [];
  let running = 0;
  let most = 0;
  const job = (): Promise<void> => s.run(() => new Promise<void>((resolve) => {
    running++;
    most = Math.max(most, running);
    gates.push(() => { running--; resolve(); });
  }));
  const a = job();
  const b = job();
  const c = job();
  await assert.rejects(job(), (e: unknown) => isStratusError(e, 'SERVER_BUSY') && e.retryAfterS === 1 && /2 jobs running and 1 waiting/.test(e.message));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.load, { running: 2, waiting: 1 });
  gates.shift()?.();
  await a;
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.load, { running: 2, waiting: 0 }, 'the slot passed to the waiter');
  for (const g of gates.splice(0)) g();
  await Promise.all([b, c]);
  assert.equal(most, 2);
  assert.deepEqual(s.load, { running: 0, waiting: 0 });
});

test('Semaphore: a task that fails frees its slot', async () => {
  const s = new Semaphore(1, 0, 'jobs');
  await assert.rejects(s.run(() => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await s.run(() => Promise.resolve(7)), 7);
});
