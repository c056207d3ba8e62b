import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { withHostLock } from './host-lock.js';
import { tempDir } from '../../test/helpers/tmp.js';

test('withHostLock: holders run one at a time, a dead holder\'s lock is taken over, and the lock goes when the work fails', async () => {
  const lock = join(tempDir(), 'sub', 'x.lock');
  const order: string[] = [];
  const work = (name: string) => withHostLock(lock, async () => {
    order.push(`${name}+`);
    await new Promise((r) => setTimeout(r, 100));
    order.push(`${name}-`);
  });
  await Promise.all([work('a'), work('b')]);
  assert.ok(order.join(' ') === 'a+ a- b+ b-' || order.join(' ') === 'b+ b- a+ a-', order.join(' '));
  mkdirSync(lock);
  writeFileSync(join(lock, 'pid'), '999999999');
  assert.equal(await withHostLock(lock, async () => 'taken over'), 'taken over');
  await assert.rejects(withHostLock(lock, async () => { throw new Error('boom'); }), /boom/);
  assert.equal(existsSync(lock), false);
});
