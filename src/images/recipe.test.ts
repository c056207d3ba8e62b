import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../../test/helpers/paths.js';
import { listRecipes, loadRecipe } from './recipe.js';

const recipes = join(repoRoot, 'recipes');

function emptyDirs(dir: string): string[] {
  const names = readdirSync(dir);
  if (names.length === 0) return [dir];
  return names.flatMap((n) => (statSync(join(dir, n)).isDirectory() ? emptyDirs(join(dir, n)) : []));
}

test('recipes hold no empty directories (git drops them, so a clone built a different ttylinux)', () => {
  assert.deepEqual(emptyDirs(recipes).map((d) => relative(repoRoot, d)), []);
});

test('every recipe loads, with a kernel, packages and boot defaults', () => {
  const names = listRecipes(recipes);
  assert.ok(names.includes('ttylinux') && names.includes('debian-12'), names.join());
  for (const name of names) {
    const r = loadRecipe(recipes, name);
    assert.ok(r.packages.includes(r.kernel), `${name}: the kernel package is among the packages that key the cache`);
    assert.ok(r.inboundPorts.includes(22));
    assert.ok(r.boot.memoryMiB >= 128 && r.boot.vcpus >= 1);
  }
});

test('both base images admit exactly the ports their entries publish (the web-server example needs 80 open in the image): the shared ruleset\'s', () => {
  const conf = readFileSync(join(recipes, 'lib/firewall/etc/nftables.conf'), 'utf8');
  const elements = /set tcp_ports \{[^}]*?elements = \{ ([^}]*) \}/s.exec(conf)?.[1];
  for (const name of ['debian-12', 'ttylinux']) {
    const r = loadRecipe(recipes, name);
    assert.deepEqual(elements?.split(',').map((p) => Number(p.trim())), r.inboundPorts, name);
    assert.deepEqual(r.inboundPorts, [22, 80, 443], name);
  }
});
