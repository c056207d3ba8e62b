import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { BodyBudget, readBody } from './body.js';
import { isStratusError } from '../domain/errors.js';

test('readBody: a body within the limit comes whole, and its bytes leave the budget', async () => {
  const budget = new BodyBudget(100);
  const s = new PassThrough();
  const p = readBody(s, 50, budget);
  s.write('abc');
  await new Promise((r) => setImmediate(r));
  assert.equal(budget.inUse, 3, 'counted while it arrives');
  s.end('def');
  assert.equal((await p).toString(), 'abcdef');
  assert.equal(budget.inUse, 0);
});

test('readBody: over the limit (declared or as it streams) is XML_TOO_LARGE naming the limit', async () => {
  const budget = new BodyBudget(1000);
  await assert.rejects(readBody(new PassThrough(), 10, budget, 11), (e: unknown) => isStratusError(e, 'XML_TOO_LARGE') && /limit of 10 bytes/.test(e.message) && /max_metadata_bytes/.test(e.hint));
  const s = new PassThrough();
  const p = readBody(s, 10, budget);
  s.write('123456');
  s.write('7890x');
  await assert.rejects(p, (e: unknown) => isStratusError(e, 'XML_TOO_LARGE'));
  assert.equal(budget.inUse, 0);
});

test('readBody: bodies together cannot hold more than the budget; the one that passes it is SERVER_BUSY with Retry-After', async () => {
  const budget = new BodyBudget(10);
  const a = new PassThrough();
  const b = new PassThrough();
  const pa = readBody(a, 100, budget);
  const pb = readBody(b, 100, budget);
  a.write('12345678');
  b.write('123');
  await assert.rejects(pb, (e: unknown) => isStratusError(e, 'SERVER_BUSY') && e.retryAfterS === 5);
  assert.equal(budget.inUse, 8);
  a.end();
  assert.equal((await pa).length, 8);
  assert.equal(budget.inUse, 0);
});

test('readBody: a body whose client goes away is UPLOAD_INCOMPLETE and gives its bytes back', async () => {
  const budget = new BodyBudget(100);
  const s = new PassThrough();
  const p = readBody(s, 100, budget);
  s.write('half');
  await new Promise((r) => setImmediate(r));
  s.destroy();
  await assert.rejects(p, (e: unknown) => isStratusError(e, 'UPLOAD_INCOMPLETE'));
  assert.equal(budget.inUse, 0);
});
