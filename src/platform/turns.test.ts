import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Turns } from './turns.js';

const later = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('Turns: work of one key runs one at a time in order, a failure does not stop the next, other keys run alongside', async () => {
  const turns = new Turns();
  const seen: string[] = [];
  const job = (key: string, name: string, ms: number, fail = false) => turns.run(key, async () => {
    seen.push(`${name} start`);
    await later(ms);
    seen.push(`${name} end`);
    if (fail) throw new Error(name);
    return name;
  });
  const results = await Promise.allSettled([job('a', 'a1', 30, true), job('a', 'a2', 1), job('b', 'b1', 5)]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'fulfilled']);
  assert.deepEqual(seen, ['a1 start', 'b1 start', 'b1 end', 'a1 end', 'a2 start', 'a2 end']);
});
