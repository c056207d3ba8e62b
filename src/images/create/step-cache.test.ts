import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { baseKey, chainKeys, packagesContent, resumePoint, scriptContent, stepKey } from './step-cache.js';

const BASE = 'PxJQ0F1u9P0vKrrVafwoPn-jPVm';

test('a step key is sha256 of the previous key and the step content, each part length-prefixed', () => {
  const expected = createHash('sha256').update('32:base:PxJQ0F1u9P0vKrrVafwoPn-jPVm').update('6:script').update('3:abc').update('2:[]').digest('hex');
  assert.equal(stepKey(baseKey(BASE), ['script', Buffer.from('abc'), '[]']), expected);
  assert.match(expected, /^[0-9a-f]{64}$/);
  // Without the prefixes, ("ab", "c") and ("a", "bc") would be one key.
  assert.notEqual(stepKey('k', ['ab', 'c']), stepKey('k', ['a', 'bc']));
});

test('keys chain: each depends on the base image and every step before it', () => {
  const a = scriptContent({ bytes: Buffer.from('#!/bin/sh\necho a\n'), args: [] });
  const b = scriptContent({ bytes: Buffer.from('#!/bin/sh\necho b\n'), args: ['x'] });
  const [k1, k2] = chainKeys(BASE, [a, b]);
  assert.equal(k1, stepKey(baseKey(BASE), a));
  assert.equal(k2, stepKey(k1 as string, b));
  assert.notEqual(chainKeys('AAAAAAAAAAAAAAAAAAAAAAAAAAA', [a, b])[1], k2, 'another base image');
  assert.equal(chainKeys(BASE, [a, scriptContent({ bytes: Buffer.from('#!/bin/sh\necho b\n'), args: ['x'] })])[1], k2, 'the same bytes and args: the same key');
  assert.notEqual(chainKeys(BASE, [a, scriptContent({ bytes: Buffer.from('#!/bin/sh\necho b\n'), args: ['y'] })])[1], k2, 'other args');
  assert.notEqual(chainKeys(BASE, [scriptContent({ bytes: Buffer.from('#!/bin/sh\necho A\n'), args: [] }), b])[1], k2, 'a changed first script changes the second key');
  assert.equal(chainKeys(BASE, [a, b])[0], k1, 'a fixed second script keeps the first key (the rerun starts from it)');
});

test('the package step\'s content: installer, sorted repositories, sorted packages (their order changes nothing)', () => {
  const repos = [{ url: 'http://b.org/d', words: ['s', 'main'] }, { url: 'http://a.org/d', words: [] }];
  const k = (c: string[]): string => stepKey(baseKey(BASE), c);
  assert.equal(k(packagesContent('apt', repos, ['vim', 'apache2'])), k(packagesContent('apt', [...repos].reverse(), ['apache2', 'vim', 'vim'])));
  assert.notEqual(k(packagesContent('apt', repos, ['vim'])), k(packagesContent('yum', repos, ['vim'])));
  assert.notEqual(k(packagesContent('apt', repos, ['vim'])), k(packagesContent('apt', [], ['vim'])));
  assert.notEqual(k(packagesContent('apt', [], ['vim'])), k(packagesContent('apt', [], ['vim', 'curl'])));
});

test('the resume point is after the last step whose layer the cloud has, asked from the end', async () => {
  const asked: string[] = [];
  const has = (present: string[]) => async (k: string): Promise<boolean> => { asked.push(k); return present.includes(k); };
  assert.equal(await resumePoint(['k1', 'k2', 'k3'], has(['k1'])), 1);
  assert.deepEqual(asked, ['k3', 'k2', 'k1']);
  assert.equal(await resumePoint(['k1', 'k2', 'k3'], has(['k1', 'k2', 'k3'])), 3, 'nothing changed: every step is skipped');
  assert.equal(await resumePoint(['k1', 'k2'], has(['k2'])), 2, 'a later layer holds the steps before it');
  assert.equal(await resumePoint(['k1', 'k2'], has([])), 0);
  assert.equal(await resumePoint([], has([])), 0);
});
