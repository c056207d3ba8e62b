import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../../src/images/builder.js';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { loadRecipe } from '../../src/images/recipe.js';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { recipeImage } from '../helpers/vm.js';

const dir = tempDir();

test('ttylinux is reproducible: a build in an empty cache gives the same bytes, and a cached build is a lookup', async () => {
  const cached = await recipeImage('ttylinux');
  const started = Date.now();
  const again = await recipeImage('ttylinux');
  assert.equal(again.fresh, false);
  assert.ok(Date.now() - started < 5000, `a cached build took ${Date.now() - started} ms`);

  // A second cache that shares only the downloaded .debs (the archive is the same).
  const cache = join(dir, 'cache');
  mkdirSync(cache);
  symlinkSync(join(cacheRoot(), 'debs'), join(cache, 'debs'));
  const saved = process.env.STRATUS_CACHE_DIR;
  process.env.STRATUS_CACHE_DIR = cache;
  try {
    const rebuilt = await buildImage(loadRecipe(join(repoRoot, 'recipes'), 'ttylinux'));
    assert.equal(rebuilt.fresh, true);
    assert.equal(rebuilt.key, cached.key);
    assert.equal(rebuilt.sha256, cached.sha256, 'same recipe and package versions, same image bytes');
  } finally {
    if (saved === undefined) delete process.env.STRATUS_CACHE_DIR;
    else process.env.STRATUS_CACHE_DIR = saved;
  }
});
