import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../test/helpers/tmp.js';
import { cachedVersions } from './apt-versions.js';

test('package versions are resolved once per apt state (a cached build cost 1-2 s of apt-cache)', async () => {
  const dir = tempDir();
  const lists = join(dir, 'root', 'var', 'lib', 'apt', 'lists');
  mkdirSync(lists, { recursive: true });
  writeFileSync(join(lists, 'deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages'), 'Package: busybox\nVersion: 1\n');
  let calls = 0;
  const resolve = async (p: string[]) => {
    calls++;
    return new Map(p.map((n) => [n, String(calls)]));
  };
  const memo = join(dir, 'memo');
  const first = await cachedVersions(['busybox'], memo, resolve, join(dir, 'root'));
  const second = await cachedVersions(['busybox'], memo, resolve, join(dir, 'root'));
  assert.equal(calls, 1);
  assert.deepEqual(second, first);
  // apt-get update brought a new list: resolve again.
  writeFileSync(join(lists, 'deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages'), 'Package: busybox\nVersion: 2\n');
  assert.equal((await cachedVersions(['busybox'], memo, resolve, join(dir, 'root'))).get('busybox'), '2');
  // Another package list is another question.
  await cachedVersions(['busybox', 'dropbear-bin'], memo, resolve, join(dir, 'root'));
  assert.equal(calls, 3);
});

test('an empty answer is not remembered (apt had no lists yet)', async () => {
  const dir = tempDir();
  let calls = 0;
  const resolve = async () => {
    calls++;
    return new Map<string, string>();
  };
  await cachedVersions(['x'], join(dir, 'memo'), resolve, dir);
  await cachedVersions(['x'], join(dir, 'memo'), resolve, dir);
  assert.equal(calls, 2);
});
