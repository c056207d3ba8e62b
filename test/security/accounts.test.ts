/**
 * Issue 8 §4, accounts: removing an account that owns volumes or mounts is refused unless
 * forced, forcing hands them to the admin, and a new account of the same name inherits
 * nothing. Against a real `stratus serve`, with `stratus user …` and the HTTP API.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import type { Credentials } from '../../src/client/pdisk-client.js';
import type { VolumeInfo } from '../../src/domain/volume.js';
import { assertConsistent, assertError, call, image, postUpload } from '../helpers/pdisk.js';
import { gzipSync } from 'node:zlib';
import { ok, pdiskCli } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ADMIN: Credentials = { username: 'admin', password: 'admin-accounts-password' };
const ALICE: Credentials = { username: 'alice', password: 'alice-accounts-password' };
const BOB: Credentials = { username: 'bob', password: 'bob-accounts-password' };
const CAROL: Credentials = { username: 'carol', password: 'carol-accounts-password' };

const work = tempDir('stratus-accounts-');
const dataDir = join(work, 'data');
const server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
const base = server.url;
/** stratus-* commands run as an account, the way a user runs them. */
const cli = pdiskCli(base, work);

async function addUser(c: Credentials): Promise<void> {
  assert.equal(ok(await cli(ADMIN, ['user', 'add', c.username, '--password-stdin'], `${c.password}\n`)).stdout, `ADDED ${c.username}\n`);
}

async function volumes(who: Credentials): Promise<VolumeInfo[]> {
  return JSON.parse(ok(await cli(who, ['describe-volumes', '--json'])).stdout) as VolumeInfo[];
}

const content = image(71);
let alicesVolume = '';
let alicesUpload = '';
let carolsVolume = '';

test('removing an account is refused while it owns volumes or mounts, by the CLI and the API, and changes nothing', async () => {
  for (const c of [ALICE, BOB, CAROL]) await addUser(c);
  ok(await cli(ADMIN, ['user', 'quota', 'alice', '--gib', '5', '--volumes', '3']));
  alicesVolume = /^DISK (\S+)\n$/.exec(ok(await cli(ALICE, ['create-volume', '-s', '1', '--public', '-t', 'old-alice'])).stdout)?.[1] as string;
  const up = await postUpload(base, ALICE, gzipSync(content), true);
  assert.equal(up.status, 201, up.text);
  alicesUpload = (JSON.parse(up.text) as VolumeInfo).uuid;
  // Bob owns no volume, only a mount on carol's PUBLIC one.
  carolsVolume = /^DISK (\S+)\n$/.exec(ok(await cli(CAROL, ['create-volume', '-s', '1', '--public'])).stdout)?.[1] as string;
  assert.equal((await call(base, 'POST', `/pswd/disks/${carolsVolume}/mounts`, BOB, { body: { node: 'node-1', vm_id: '5' } })).status, 201);

  const alice = await cli(ADMIN, ['user', 'remove', 'alice']);
  assert.equal(alice.code, 1);
  assert.equal(alice.stdout, '');
  assert.match(alice.stderr, /^ {2}\[ERROR\] user alice still owns 2 volumes\n {2}hint: .*--force/);
  const bob = await cli(ADMIN, ['user', 'remove', 'bob']);
  assert.match(bob.stderr, /\[ERROR\] user bob still owns 1 mount\n/);
  assertError(await call(base, 'DELETE', '/users/alice', ADMIN), 409, 'USER_IN_USE', 'user alice still owns 2 volumes');
  assertError(await call(base, 'DELETE', '/users/alice?force=false', ADMIN), 409, 'USER_IN_USE');
  assertError(await call(base, 'DELETE', '/users/alice?force=yes', ADMIN), 400, 'USAGE', "force must be true or false, not 'yes'");
  assertError(await call(base, 'DELETE', '/users/alice?force=true', ALICE), 403, 'FORBIDDEN');
  assertError(await call(base, 'DELETE', '/users/admin?force=true', ADMIN), 403, 'FORBIDDEN');

  assert.equal((await volumes(ALICE)).filter((v) => v.owner === 'alice').length, 2, 'refused: she still has everything');
  assert.equal((await call(base, 'GET', `/pswd/disks/${carolsVolume}/mounts`, BOB)).text.includes('"5"'), true, 'and he his mount');
});

test('--force hands the volumes and mounts to the admin, and the old credentials stop working at once', async () => {
  // Used just before: the server has the check of these credentials in memory.
  ok(await cli(ALICE, ['describe-volumes']));
  assert.equal(ok(await cli(ADMIN, ['user', 'remove', 'alice', '--force'])).stdout, 'REMOVED alice\nHANDED OVER to admin volumes: 2 mounts: 0\n');
  const r = await call(base, 'DELETE', '/users/bob?force=true', ADMIN);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), { username: 'bob', removed: true, heir: 'admin', handedOver: { volumes: 0, mounts: 1 } });

  for (const c of [ALICE, BOB]) assert.match((await cli(c, ['describe-volumes'])).stderr, /\[ERROR\] invalid credentials/);
  const admins = (await volumes(ADMIN)).filter((v) => v.uuid === alicesVolume || v.uuid === alicesUpload);
  assert.deepEqual(admins.map((v) => v.owner), ['admin', 'admin']);
  // Bob's mount is the admin's now: carol, the volume's owner, still sees and ends it.
  assert.match((await call(base, 'GET', `/pswd/disks/${carolsVolume}/mounts`, CAROL)).text, /"vmId":"5"/);
  const names = ok(await cli(ADMIN, ['user', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]);
  assert.deepEqual(names.filter((n) => n === 'alice' || n === 'bob'), [], 'neither is listed');
});

test('a new account with a removed name inherits nothing: volumes, mounts, quotas, duplicates or credentials', async () => {
  // Same names, same passwords.
  await addUser(ALICE);
  await addUser(BOB);
  assert.deepEqual((await volumes(ALICE)).filter((v) => v.owner === 'alice'), [], 'the new alice owns no volume');
  const old = (await volumes(ALICE)).find((v) => v.uuid === alicesVolume);
  assert.equal(old?.owner, 'admin', "the old alice's PUBLIC volume is listed as the admin's");
  assertError(await call(base, 'DELETE', `/pswd/disks/${alicesVolume}`, ALICE), 403, 'FORBIDDEN');
  assertError(await call(base, 'PUT', `/pswd/disks/${alicesVolume}`, ALICE, { body: { tag: 'mine' } }), 403, 'FORBIDDEN');
  assertError(await call(base, 'GET', `/pswd/disks/${alicesUpload}`, ALICE), 404, 'VOLUME_NOT_FOUND', `no volume ${alicesUpload}`);

  const users = JSON.parse(ok(await cli(ADMIN, ['user', 'list', '--json'])).stdout) as { username: string; quotaGib: number | null; quotaVolumes: number | null }[];
  assert.deepEqual(users.find((u) => u.username === 'alice'), { ...users.find((u) => u.username === 'alice'), quotaGib: null, quotaVolumes: null }, 'no quota carried over');

  // The content the old alice held is no duplicate for the new one.
  const again = await postUpload(base, ALICE, gzipSync(content), true);
  assert.equal(again.status, 201, again.text);

  // The old bob's mount is not the new bob's to see or end.
  assert.equal((await call(base, 'GET', `/pswd/disks/${carolsVolume}/mounts`, BOB)).text, '[]');
  assertError(await call(base, 'DELETE', `/pswd/disks/${carolsVolume}/mounts/${carolsVolume}_5`, BOB), 404, 'VOLUME_NOT_FOUND');

  // With nothing owned, removal needs no force.
  ok(await cli(ALICE, ['delete-volume', (JSON.parse(again.text) as VolumeInfo).uuid]));
  assert.equal(ok(await cli(ADMIN, ['user', 'remove', 'alice'])).stdout, 'REMOVED alice\n');
  assert.equal((await call(base, 'DELETE', `/pswd/disks/${carolsVolume}/mounts/${carolsVolume}_5`, CAROL)).status, 200);
  const admin = new PdiskClient(base, ADMIN);
  for (const v of await admin.list()) await admin.delete(v.uuid);
  await assertConsistent(admin, join(dataDir, 'volumes'), 'after the account tests');
});
