import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { hashFile } from '../../src/platform/hashing.js';
import { listRecipes } from '../../src/images/recipe.js';
import { runCli } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { recipeImage } from '../helpers/vm.js';
import { repoRoot } from '../helpers/paths.js';
import type { EntryListing } from '../../src/domain/wire.js';

const dir = tempDir();
const env = { STRATUS_ADMIN_PASSWORD: 'admin-pass-1', STRATUS_CACHE_DIR: cacheRoot() };
const server = await startServerProcess(join(dir, 'data'), [], env);
const cli = (args: string[]) => runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_MARKETPLACE_ENDPOINT: server.url, STRATUSLAB_PDISK_ENDPOINT: server.url } });
const BUILDER = 'hudson.builder@stratuslab.eu';

for (const recipe of listRecipes(join(repoRoot, 'recipes'))) {
  test(`${recipe}: published like StratusLab's builder, found by endorser, valid, and downloaded byte for byte`, async () => {
    const image = await recipeImage(recipe);
    const pub = await cli(['build-base-image', '--recipe', recipe, '--data-dir', join(dir, 'data'), '--json']);
    assert.equal(pub.code, 0, pub.stderr + pub.stdout);
    const result = JSON.parse(pub.stdout.slice(pub.stdout.indexOf('{'))) as { identifier: string; volume: string; entry: string };
    assert.equal(result.identifier, image.identifier);

    // Listed under the builder's endorser, in the CLI and in the web UI.
    const listed = await cli(['list-images', '--endorser', BUILDER, '--json']);
    assert.ok((JSON.parse(listed.stdout) as Array<{ identifier: string }>).some((e) => e.identifier === image.identifier));
    const html = await (await fetch(`${server.url}/metadata?media=html&endorser=${encodeURIComponent(BUILDER)}`)).text();
    assert.match(html, new RegExp(image.identifier));
    const json = (await (await fetch(`${server.url}/metadata?media=json&identifier=${image.identifier}`)).json()) as EntryListing;
    const entry = json.entries[0];
    assert.ok(entry);
    assert.equal(entry.creator, 'hudson builder');
    assert.match(entry.location ?? '', /^pdisk:127\.0\.0\.1:\d+:[0-9a-f-]{36}$/);

    // The volume is PUBLIC and belongs to the builder account.
    const vol = await cli(['describe-volumes', '-u', 'admin', '-p', env.STRATUS_ADMIN_PASSWORD, '--json', result.volume]);
    const v = (JSON.parse(vol.stdout) as Array<{ owner: string; visibility: string; type: string }>)[0];
    assert.deepEqual([v?.owner, v?.visibility, v?.type], ['builder', 'PUBLIC', 'MACHINE_IMAGE_ORIGIN']);

    // The signed entry validates with stratus-validate-metadata.
    const xml = await (await fetch(result.entry, { headers: { accept: 'application/xml' } })).text();
    writeFileSync(join(dir, `${recipe}.xml`), xml);
    const valid = await cli(['validate-metadata', join(dir, `${recipe}.xml`)]);
    assert.equal(valid.code, 0, valid.stderr);

    // stratus-download-image gives back the exact bytes.
    const out = join(dir, `${recipe}.img`);
    const dl = await cli(['download-image', '-u', 'admin', '-p', env.STRATUS_ADMIN_PASSWORD, '-o', out, image.identifier]);
    assert.equal(dl.code, 0, dl.stderr);
    assert.equal((await hashFile(out, { algorithms: ['sha1'], compression: 'none' })).digests.sha1, image.sha1);

    // Publishing again changes nothing.
    const again = await cli(['build-base-image', '--recipe', recipe, '--data-dir', join(dir, 'data')]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already lists this image/);
  });
}
