/**
 * Issue 10, Done when, crash safety: `stratus serve` killed with SIGKILL in the middle of a
 * --save instance's Epilog (a debian-12 disk, so the copy lasts long enough to be hit), then
 * started again on the same data dir. The save completes: the volume, the mail and the draft
 * are all there once, and the user's overlay is still there (quarantined, not lost).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { runCli, ok } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import type { ServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlots, sshKey } from '../helpers/vm.js';
import { checkSavedImage } from '../helpers/saved-image.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
const admin = { username: 'admin', password: 'admin-pass-1' };
const ALICE = { username: 'alice', password: 'alice-pass-1' };
const BOB = { username: 'bob', password: 'bob-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
let server: ServerProcess = await startServerProcess(dataDir, ['--network', 'user'], env);
const key = sshKey(dir);
const auth = { authorization: `Basic ${Buffer.from(`${ALICE.username}:${ALICE.password}`).toString('base64')}` };

const alice = (args: string[]): ReturnType<typeof runCli> =>
  runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: ALICE.username, STRATUSLAB_PASSWORD: ALICE.password } });

async function stateOf(id: number): Promise<InstanceInfo> {
  return await (await fetch(`${server.url}/instances/${id}`, { headers: { ...auth, accept: 'application/json' } })).json() as InstanceInfo;
}

test('SIGKILL of the server mid-Epilog: after a restart the save completes once, and the user\'s overlay is still there (regression: the resumed save ran before the server listened, with no URL for its draft: "Invalid URL")', async (t) => {
  const image = await publishRecipe(server.url, dataDir, 'debian-12', { dir, env });
  await addAccount(server.url, admin, ALICE.username, ALICE.password);
  await addAccount(server.url, admin, BOB.username, BOB.password);
  const release = await acquireGuestSlots(1);
  t.after(release);
  const title = 'debian-12 saved through a crash';
  const run = ok(await alice(['run-instance', '-q', '-k', `${key.path}.pub`, '--ram', '1024', '--save', '--author', 'Jane Tester', '--author-email', 'jane@example.org',
    '--title', title, '--comment', 'survives SIGKILL', '--image-version', '1.1', image.identifier]));
  const id = Number(run.stdout.split(',')[0]);
  t.after(async () => { await alice(['kill-instance', String(id)]); });
  ok(await alice(['connect-instance', '-k', key.path, String(id), '--', 'echo Cloudy Weather Expected > /root/cloud.txt && sync']));
  const overlay = (await stateOf(id)).disk as string;
  assert.ok(overlay);

  // The shutdown's answer never comes: the server dies under it.
  void fetch(`${server.url}/instances/${id}/shutdown`, { method: 'POST', headers: { ...auth, accept: 'application/json' } }).catch(() => undefined);
  const deadline = Date.now() + 300_000;
  let seen = (await stateOf(id)).state;
  while (seen !== 'Epilog' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    seen = (await stateOf(id)).state;
    assert.notEqual(seen, 'Done', 'the Epilog ended before it could be killed: the test proves nothing');
  }
  assert.equal(seen, 'Epilog');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await stateOf(id)).state, 'Epilog', 'still saving when killed');
  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));

  server = await startServerProcess(dataDir, ['--network', 'user'], env);
  let done = await stateOf(id);
  while (done.state === 'Epilog' && Date.now() < deadline + 300_000) {
    await new Promise((r) => setTimeout(r, 500));
    done = await stateOf(id);
  }
  assert.equal(done.state, 'Done', `message: ${String(done.message)}\n${server.log()}`);
  const m = /^MARKETPLACE_AND_IMAGEID (\S+) ([A-Za-z0-9_-]{27})$/.exec(done.message ?? '');
  assert.ok(m, String(done.message));
  await checkSavedImage({ url: server.url, dataDir, identifier: m[2] as string, owner: ALICE, other: BOB, authorEmail: 'jane@example.org', title, cli: alice });
  const mails = readdirSync(join(dataDir, 'outbox')).filter((f) => f.endsWith('.eml'));
  assert.equal(mails.length, 1, 'one mail, not one per attempt');
  assert.ok(readdirSync(join(dataDir, 'volumes')).some((f) => f.startsWith(overlay)), 'the user\'s overlay is still there (quarantined)');
  assert.ok(existsSync(join(dataDir, 'volumes')));
});
