import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
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
