/**
 * Volumes on instances, as an attacker would try them: bob against alice's instances and
 * volumes on a real `stratus serve`, through the API and through stratus-attach-volume and
 * stratus-detach-volume. Alice's VM must not exist for him, nor her private volume; he learns
 * nothing that a vm ID or UUID nobody has would not tell him. These need no guest (the
 * instances here failed in Prolog and stay recorded); the attacks on running guests (a
 * read-write volume into a second VM, a hand-made pdisk record on alice's VM) are in
 * test/vm/attach-volume.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import type { Credentials } from '../../src/client/pdisk-client.js';
import { assertError, call } from '../helpers/pdisk.js';
import { runCli } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ADMIN: Credentials = { username: 'admin', password: 'admin-instvol-password' };
const ALICE: Credentials = { username: 'alice', password: 'alice-instvol-password' };
const BOB: Credentials = { username: 'bob', password: 'bob-instvol-password' };
const NOBODY_UUID = '00000000-0000-4000-8000-000000000000';

const work = tempDir('stratus-instance-volumes-');
const server = await startServerProcess(join(work, 'data'), [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
const base = server.url;
for (const c of [ALICE, BOB]) await new PdiskClient(base, ADMIN).addUser({ ...c });

/** A volume of `who` (a data volume unless `type` says otherwise). */
async function volume(who: Credentials, fields: Record<string, unknown> = {}): Promise<string> {
  const a = await call(base, 'POST', '/pswd/disks/', who, { body: { size: 1, ...fields } });
  assert.equal(a.status, 201, a.text);
  return (JSON.parse(a.text) as { uuid: string }).uuid;
}

/** An instance of `who` that failed in Prolog (its image has no boot sector): recorded, not running. */
async function failedInstance(who: Credentials): Promise<number> {
  const image = await volume(who, { type: 'MACHINE_IMAGE_LIVE' });
  const run = await call(base, 'POST', '/instances', who, { body: { image, cpu: 1, ramMiB: 64 } });
  assertError(run, 400, 'IMAGE_NOT_READABLE');
  const list = JSON.parse((await call(base, 'GET', '/instances', who)).text) as Array<{ id: number; image: string; state: string }>;
  const vm = list.find((i) => i.image === image);
  assert.equal(vm?.state, 'Failed');
  return (vm as { id: number }).id;
}

const aliceVm = await failedInstance(ALICE);
const bobVm = await failedInstance(BOB);
const nobodyVm = Math.max(aliceVm, bobVm) + 1000;
const alicePrivate = await volume(ALICE);
const alicePublic = await volume(ALICE, { visibility: 'public' });
const bobs = await volume(BOB);

test("attack: bob attaches, detaches or lists volumes on alice's VM: 404, the answer a vm ID nobody has gets", async () => {
  for (const vm of [aliceVm, nobodyVm]) {
    const attach = await call(base, 'POST', `/instances/${vm}/volumes`, BOB, { body: { uuid: bobs } });
    assertError(attach, 404, 'INSTANCE_NOT_FOUND', `VM ${vm} does not exist`);
    assertError(await call(base, 'DELETE', `/instances/${vm}/volumes/${alicePrivate}`, BOB), 404, 'INSTANCE_NOT_FOUND', `VM ${vm} does not exist`);
    assertError(await call(base, 'GET', `/instances/${vm}/volumes`, BOB), 404, 'INSTANCE_NOT_FOUND', `VM ${vm} does not exist`);
  }
  // Alice's own view of her VM is untouched.
  assert.equal((await call(base, 'GET', `/instances/${aliceVm}/volumes`, ALICE)).text, '[]');
});

test("attack: bob attaches alice's private volume to his own VM: 404, as pdisk answers for it, before his VM's state is even looked at", async () => {
  const stolen = await call(base, 'POST', `/instances/${bobVm}/volumes`, BOB, { body: { uuid: alicePrivate } });
  const absent = await call(base, 'POST', `/instances/${bobVm}/volumes`, BOB, { body: { uuid: NOBODY_UUID } });
  assertError(stolen, 404, 'VOLUME_NOT_FOUND', `no volume ${alicePrivate}`);
  assertError(absent, 404, 'VOLUME_NOT_FOUND', `no volume ${NOBODY_UUID}`);
  assertError(await call(base, 'GET', `/pswd/disks/${alicePrivate}`, BOB), 404, 'VOLUME_NOT_FOUND', `no volume ${alicePrivate}`);
  // A PUBLIC one passes the rights check: only then does his VM's state refuse it.
  assertError(await call(base, 'POST', `/instances/${bobVm}/volumes`, BOB, { body: { uuid: alicePublic } }), 409, 'INSTANCE_STATE', `VM ${bobVm} is not in running state`);
  const mounts = JSON.parse((await call(base, 'GET', `/pswd/disks/${alicePrivate}/mounts`, ALICE)).text) as unknown[];
  assert.deepEqual(mounts, [], 'nothing was recorded on her volume');
});

test('a run that fails in Prolog leaves nothing recorded on its --persistent-disk (the release path ends the attachment it made)', async () => {
  const image = await volume(ALICE, { type: 'MACHINE_IMAGE_LIVE' });
  const data = await volume(ALICE);
  assertError(await call(base, 'POST', '/instances', ALICE, { body: { image, cpu: 1, ramMiB: 64, persistentDisk: data } }), 400, 'IMAGE_NOT_READABLE');
  assert.deepEqual(JSON.parse((await call(base, 'GET', `/pswd/disks/${data}/mounts`, ALICE)).text), []);
  assert.deepEqual(JSON.parse((await call(base, 'GET', `/pswd/disks/${image}/mounts`, ALICE)).text), [], 'nor on its boot volume');
});

test('attack through the commands: stratus-attach-volume and stratus-detach-volume as bob name alice\'s VM as missing and exit 1', async () => {
  const bob = (args: string[]): ReturnType<typeof runCli> => runCli(args, {
    cwd: work, home: work, env: { STRATUSLAB_ENDPOINT: base, STRATUSLAB_USERNAME: BOB.username, STRATUSLAB_PASSWORD: BOB.password },
  });
  for (const command of ['attach-volume', 'detach-volume']) {
    const r = await bob([command, '-i', String(aliceVm), alicePrivate]);
    assert.equal(r.code, 1, command);
    assert.equal(r.stdout, '', command);
    assert.match(r.stderr, new RegExp(`^  \\[ERROR\\] VM ${aliceVm} does not exist\\n`), command);
  }
  const own = await bob(['attach-volume', '-i', String(bobVm), alicePrivate]);
  assert.equal(own.code, 1);
  assert.match(own.stderr, new RegExp(`^  \\[ERROR\\] DISK ${alicePrivate}: no volume ${alicePrivate}\\n`));
  assert.equal((await call(base, 'GET', `/instances/${aliceVm}`, ALICE)).status, 200, 'alice still sees her VM');
});
