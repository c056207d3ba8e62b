import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StratusError, isStratusError } from '../domain/errors.js';
import { LoginGuard } from './login-guard.js';
import type { Principal } from '../accounts/accounts.js';

const PASSWORDS: Record<string, string> = { alice: 'right-a', bob: 'right-b' };

function check(username: string, password: string): () => Promise<Principal> {
  return () => (PASSWORDS[username] === password ? Promise.resolve({ id: `id-${username}`, username, admin: false }) : Promise.reject(new StratusError('AUTH_REQUIRED', 'invalid credentials')));
}

function guard(now: { t: number }): LoginGuard {
  return new LoginGuard({ perAddress: 5, perAccount: 3, windowMs: 60_000 }, () => now.t);
}

async function attempt(g: LoginGuard, address: string, username: string, password: string): Promise<string> {
  try {
    await g.authenticate(address, username, password, check(username, password));
    return 'ok';
  } catch (e) {
    if (isStratusError(e, 'RATE_LIMITED')) return `429 after ${e.retryAfterS}`;
    if (isStratusError(e, 'AUTH_REQUIRED')) return '401';
    throw e;
  }
}

test('failures per account: from any address, the account is held after its limit, with Retry-After', async () => {
  const now = { t: 0 };
  const g = guard(now);
  const seen = [];
  for (let i = 0; i < 4; i++) seen.push(await attempt(g, `192.0.2.${i}`, 'bob', 'guess'));
  assert.deepEqual(seen, ['401', '401', '401', '429 after 60']);
  assert.equal(await attempt(g, '198.51.100.1', 'bob', 'right-b'), '429 after 60', 'not known good: held like a guess');
  now.t += 60_001;
  assert.equal(await attempt(g, '198.51.100.1', 'bob', 'right-b'), 'ok');
});

test('failures per address: one address guessing many accounts is held, others are not', async () => {
  const now = { t: 0 };
  const g = guard(now);
  for (let i = 0; i < 5; i++) assert.equal(await attempt(g, '192.0.2.9', `user${i}`, 'guess'), '401');
  assert.match(await attempt(g, '192.0.2.9', 'user9', 'guess'), /^429/);
  assert.equal(await attempt(g, '192.0.2.10', 'alice', 'right-a'), 'ok');
});

test('credentials that succeeded recently pass a held account, so a guesser cannot lock its owner out; a changed password does not', async () => {
  const now = { t: 0 };
  const g = guard(now);
  assert.equal(await attempt(g, '192.0.2.1', 'alice', 'right-a'), 'ok');
  for (let i = 0; i < 3; i++) await attempt(g, '203.0.113.5', 'alice', 'guess');
  assert.match(await attempt(g, '203.0.113.6', 'alice', 'guess'), /^429/);
  assert.equal(await attempt(g, '192.0.2.1', 'alice', 'right-a'), 'ok');
  PASSWORDS.alice = 'changed';
  try {
    assert.equal(await attempt(g, '192.0.2.1', 'alice', 'right-a'), '401', 'checked again, and now wrong');
    assert.match(await attempt(g, '192.0.2.1', 'alice', 'right-a'), /^429/, 'no longer known good');
  } finally {
    PASSWORDS.alice = 'right-a';
  }
});

test('concurrent guesses reserve their failure before the check runs: no more than the limit are checked', async () => {
  const g = new LoginGuard({ perAddress: 100, perAccount: 3, windowMs: 60_000 });
  let checked = 0;
  const slow = (): Promise<Principal> => new Promise((_resolve, reject) => {
    checked++;
    setTimeout(() => reject(new StratusError('AUTH_REQUIRED', 'invalid credentials')), 20);
  });
  const results = await Promise.allSettled(Array.from({ length: 20 }, () => g.authenticate('192.0.2.1', 'bob', 'guess', slow)));
  assert.equal(checked, 3);
  assert.equal(results.filter((r) => r.status === 'rejected' && isStratusError(r.reason, 'RATE_LIMITED')).length, 17);
});

test('a check that fails for the server\'s own reasons (busy) does not count as a guess', async () => {
  const g = new LoginGuard({ perAddress: 1, perAccount: 1, windowMs: 60_000 });
  const busy = (): Promise<Principal> => Promise.reject(new StratusError('SERVER_BUSY', 'busy'));
  for (let i = 0; i < 3; i++) await assert.rejects(g.authenticate('192.0.2.1', 'bob', 'x', busy), (e: unknown) => isStratusError(e, 'SERVER_BUSY'));
  assert.equal(await attempt(g, '192.0.2.1', 'bob', 'right-b'), 'ok');
});
