import assert from 'node:assert/strict';
import type { BuiltImage } from '../../src/images/index.js';
import { ok, runCli } from './cli.js';
import { recipeImage } from './vm.js';

/** Adds an account to a running server as its admin. */
export async function addAccount(url: string, admin: { username: string; password: string }, username: string, password: string): Promise<void> {
  const res = await fetch(`${url}/users`, {
    method: 'POST', body: JSON.stringify({ username, password }),
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}` },
  });
  assert.equal(res.status, 201, await res.text());
}

/**
 * Publishes a base image on a running server as its builder (stratus-build-base-image, from
 * the image cache), so that its Marketplace ID can be run; returns the image.
 */
export async function publishRecipe(url: string, dataDir: string, recipe: string, opts: { dir: string; env: Record<string, string> }): Promise<BuiltImage> {
  const image = await recipeImage(recipe);
  ok(await runCli(['build-base-image', '--recipe', recipe, '--data-dir', dataDir], {
    cwd: opts.dir, home: opts.dir, env: { ...opts.env, STRATUSLAB_MARKETPLACE_ENDPOINT: url, STRATUSLAB_PDISK_ENDPOINT: url },
  }));
  return image;
}
