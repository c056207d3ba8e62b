import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import type { EntryListing } from '../../src/domain/wire.js';
import { runCli } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

/*
 * stratus-build-base-image publishing to two servers from one client: the builder account
 * lives on each server, so its password must be kept per server. It used to be kept once, in
 * ~/.stratus/builder/account-password, and publishing to a second server failed with
 * "invalid credentials" and a hint about the user's own username.
 */
const dir = tempDir();
const home = join(dir, 'home');
const cache = join(dir, 'cache');
mkdirSync(home);
const [a, b] = await Promise.all([
  startServerProcess(join(dir, 'a'), [], { STRATUS_ADMIN_PASSWORD: 'admin-a-pass' }),
  startServerProcess(join(dir, 'b'), [], { STRATUS_ADMIN_PASSWORD: 'admin-b-pass' }),
]);

// A recipe that builds in a moment: a 1 MiB disk with a few bytes of content.
const recipes = join(dir, 'recipes');
mkdirSync(join(recipes, 'tiny'), { recursive: true });
writeFileSync(join(recipes, 'tiny', 'recipe.json'), JSON.stringify({
  title: 'tiny', description: 'A test image', os: 'tiny', osVersion: '1', osArch: 'x86_64', version: '1.0', packages: ['busybox-static'],
}));
writeFileSync(join(recipes, 'tiny', 'build.sh'), 'set -e\nhead -c 1048576 /dev/zero > "$1/disk.img"\nprintf "tiny image" | dd of="$1/disk.img" conv=notrunc status=none\n');

const publish = (server: string, ...admin: string[]) => runCli(['build-base-image', '--recipe', 'tiny', '--recipes-dir', recipes, '--marketplace-endpoint', server, '--json', ...admin],
  { cwd: dir, home, env: { STRATUS_CACHE_DIR: cache } });
const serverKey = (url: string): string => `http_127.0.0.1_${new URL(url).port}`;
const passwordFiles = (): string[] => readdirSync(join(home, '.stratus', 'builder', 'servers')).sort();

async function listedByBuilder(server: string): Promise<number> {
  const listing = await (await fetch(`${server}/metadata?media=json&endorser=hudson.builder@stratuslab.eu`)).json() as EntryListing;
  return listing.entries.length;
}

test('build-base-image publishes to a second server: the builder account and its password are per server', async () => {
  const first = await publish(a.url, '-u', 'admin', '-p', 'admin-a-pass');
  assert.equal(first.code, 0, first.stderr + first.stdout);
  const second = await publish(b.url, '-u', 'admin', '-p', 'admin-b-pass');
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.deepEqual([await listedByBuilder(a.url), await listedByBuilder(b.url)], [1, 1]);
  const volume = (JSON.parse(second.stdout.slice(second.stdout.indexOf('{'))) as { volume: string }).volume;
  assert.equal((await new PdiskClient(b.url, { username: 'admin', password: 'admin-b-pass' }).get(volume)).owner, 'builder');
  assert.deepEqual(passwordFiles(), [serverKey(a.url), serverKey(b.url)].sort());
  assert.equal(existsSync(join(home, '.stratus', 'builder', 'account-password')), false, 'no password shared by every server');

  // Publishing again to each needs no admin: the kept password of that server is used.
  const again = await publish(a.url);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already lists this image/);
});

test('a stale builder password is reset with admin credentials; without them the error names the builder account', async () => {
  await new PdiskClient(a.url, { username: 'admin', password: 'admin-a-pass' }).passwd('builder', 'changed-behind-our-back');
  const refused = await publish(a.url);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`\\[ERROR\\] ${a.url} refuses the password of its "builder" account kept in .*${serverKey(a.url)}/account-password`));
  assert.match(refused.stderr, /hint: Give -u admin -p <password>, set STRATUS_ADMIN_PASSWORD/);
  assert.doesNotMatch(refused.stderr, /STRATUSLAB_USERNAME/, 'no hint about the user\'s own account');

  const reset = await publish(a.url, '-u', 'admin', '-p', 'admin-a-pass');
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /already lists this image/);
});

test('a missing builder password with wrong admin credentials names the admin account and the server', async () => {
  rmSync(join(home, '.stratus', 'builder', 'servers', serverKey(b.url)), { recursive: true });
  const wrong = await publish(b.url, '-u', 'admin', '-p', 'not-the-password');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, new RegExp(`there is no "builder" account password for ${b.url} .*, and the account "admin" cannot create it at ${b.url}: invalid credentials`));
  assert.match(wrong.stderr, new RegExp(`hint: Give the admin account of ${b.url}`));

  const right = await publish(b.url, '-u', 'admin', '-p', 'admin-b-pass');
  assert.equal(right.code, 0, right.stderr);
  assert.match(right.stdout, /already lists this image/);
});
