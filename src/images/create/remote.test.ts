import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineTail } from './remote.js';

test('the tail keeps the last lines, across chunks, without a terminal\'s carriage returns and colours', () => {
  const t = new LineTail(3);
  t.push('one\r\ntw');
  t.push('o\r\nthree\r\n\x1b[31mfour\x1b[0m\r\nfi');
  assert.deepEqual(t.get(), ['three', 'four', 'fi']);
  t.push('ve\n');
  assert.deepEqual(t.get(), ['three', 'four', 'five']);
});

test('an endless line is bounded', () => {
  const t = new LineTail(2, 10);
  t.push('x'.repeat(100));
  t.push('y'.repeat(100) + '\nshort\n');
  assert.deepEqual(t.get(), [`${'x'.repeat(10)}…`, 'short']);
  t.push('z'.repeat(50));
  assert.deepEqual(t.get(), ['short', `${'z'.repeat(10)}…`]);
});
