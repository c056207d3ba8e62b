/**
 * Issue 8 §4, as an attacker would try it: bob against alice's volumes on a real
 * `stratus serve`, through the pdisk HTTP API and the stratus-* commands. A PUBLIC volume is
 * readable by all, and must give no one else power over its owner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import type { Credentials } from '../../src/client/pdisk-client.js';
import type { VolumeInfo } from '../../src/domain/volume.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import { assertConsistent, assertError, call, download, image, postUpload, sha1, upload } from '../helpers/pdisk.js';
import { ok, pdiskCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ADMIN: Credentials = { username: 'admin', password: 'admin-rights-password' };
const ALICE: Credentials = { username: 'alice', password: 'alice-rights-password' };
const BOB: Credentials = { username: 'bob', password: 'bob-rights-password' };
const CAROL: Credentials = { username: 'carol', password: 'carol-rights-password' };

const work = tempDir('stratus-volume-rights-');
const dataDir = join(work, 'data');
const volumesDir = join(dataDir, 'volumes');
const server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
const base = server.url;
/** stratus-* commands run as an account, the way a user runs them. */
const cli = pdiskCli(base, work);
const client = (c: Credentials): PdiskClient => new PdiskClient(base, c);
for (const c of [ALICE, BOB, CAROL]) await client(ADMIN).addUser({ ...c });

async function createVolume(who: Credentials, ...args: string[]): Promise<string> {
  const m = /^DISK ([0-9a-f-]{36})\n$/.exec(ok(await cli(who, ['create-volume', '-s', '1', ...args])).stdout);
  assert.ok(m);
  return m[1] as string;
}

function mount(who: Credentials, uuid: string, vm: string, prefix = '/pswd/disks'): ReturnType<typeof call> {
  return call(base, 'POST', `${prefix}/${uuid}/mounts`, who, { body: { node: 'node-1', vm_id: vm } });
}

function unmount(who: Credentials, uuid: string, vm: string, prefix = '/pswd/disks'): ReturnType<typeof call> {
  return call(base, 'DELETE', `${prefix}/${uuid}/mounts/${uuid}_${vm}`, who);
}

async function mountIds(who: Credentials, uuid: string): Promise<string[]> {
  const a = await call(base, 'GET', `/pswd/disks/${uuid}/mounts`, who);
  assert.equal(a.status, 200, a.text);
  return (JSON.parse(a.text) as { vmId: string }[]).map((m) => m.vmId).sort();
}

test("bob cannot unmount alice's mount of her PUBLIC volume; he mounts it read-only for himself, and she or the admin end his mount", async () => {
  const uuid = await createVolume(ALICE, '--public');
  assert.equal((await mount(ALICE, uuid, '7')).status, 201);

  for (const prefix of ['/pswd/disks', '/disks']) {
    assertError(await unmount(BOB, uuid, '7', prefix), 404, 'VOLUME_NOT_FOUND', `no mount ${uuid}_7 on disk ${uuid}`);
    assertError(await call(base, 'GET', `${prefix}/${uuid}/mounts/${uuid}_7`, BOB), 404, 'VOLUME_NOT_FOUND');
  }
  assert.deepEqual(await mountIds(BOB, uuid), [], "alice's mounts are not listed to bob");
  assert.deepEqual(await mountIds(ALICE, uuid), ['7'], 'her mount is still there');

  // Read access is enough to mount for one's own VM; such a mount is read-only.
  const his = await mount(BOB, uuid, '9');
  assert.equal(his.status, 201, his.text);
  assert.equal((JSON.parse(his.text) as { readOnly: boolean }).readOnly, true);
  assert.equal((JSON.parse((await mount(ALICE, uuid, '8')).text) as { readOnly: boolean }).readOnly, false, "the owner's mount is read-write");
  assert.deepEqual(await mountIds(BOB, uuid), ['9']);
  assert.deepEqual(await mountIds(ALICE, uuid), ['7', '8', '9'], 'the owner sees every mount of her volume');
  assert.equal((await unmount(ADMIN, uuid, '9')).status, 200, 'the admin ends anyone’s mount');
  assert.equal((await mount(BOB, uuid, '9')).status, 201);
  assert.equal((await unmount(BOB, uuid, '9')).status, 200, 'bob ends his own mount');
  assert.equal((await mount(BOB, uuid, '9')).status, 201);

  // Private again: bob can no longer mount it, and his mount is the owner's to end.
  ok(await cli(ALICE, ['update-volume', uuid, '--private']));
  assertError(await mount(BOB, uuid, '10'), 404, 'VOLUME_NOT_FOUND');
  assertError(await unmount(BOB, uuid, '7'), 404, 'VOLUME_NOT_FOUND');

  // Her own mounts hold her deletion back; his never do, and end with the volume.
  assert.match((await cli(ALICE, ['delete-volume', uuid])).stderr, /\[ERROR\] disk \(.*\) is in use/);
  for (const vm of ['7', '8']) assert.equal((await unmount(ALICE, uuid, vm)).status, 200);
  assert.equal(ok(await cli(ALICE, ['delete-volume', uuid])).stdout, `DELETED ${uuid}\n`);
  assertError(await call(base, 'GET', `/pswd/disks/${uuid}/mounts`, ADMIN), 404, 'VOLUME_NOT_FOUND');
  await assertConsistent(client(ADMIN), volumesDir, 'after the mount rights');
});

test("bob snapshots alice's PUBLIC image; she makes it private and deletes it all the same; his snapshot keeps working and takes the bytes along when he deletes it", async () => {
  const content = image(81);
  const origin = await upload(client(ALICE), content, { visibility: 'PUBLIC' });
  ok(await cli(ALICE, ['update-volume', origin.uuid, '--machine-image-origin']));
  const snap = JSON.parse((await call(base, 'POST', `/pswd/disks/${origin.uuid}/snapshot`, BOB)).text) as VolumeInfo;
  assert.equal(snap.owner, 'bob');
  assert.equal(snap.origin, origin.uuid);

  // She cannot see or delete his snapshot, and it no longer stands in her way.
  assertError(await call(base, 'DELETE', `/pswd/disks/${snap.uuid}`, ALICE), 404, 'VOLUME_NOT_FOUND');
  ok(await cli(ALICE, ['update-volume', origin.uuid, '--private']));
  assert.equal(ok(await cli(ALICE, ['delete-volume', origin.uuid])).stdout, `DELETED ${origin.uuid}\n`);
  for (const who of [ALICE, BOB, ADMIN]) {
    assertError(await call(base, 'GET', `/pswd/disks/${origin.uuid}`, who), 404, 'VOLUME_NOT_FOUND');
    assert.ok(!(await client(who).list()).some((v) => v.uuid === origin.uuid), `${who.username} no longer lists it`);
  }
  assert.ok(existsSync(join(volumesDir, `${origin.uuid}.raw`)), 'the bytes stay while his snapshot reads through them');

  // His snapshot still holds the image: rebased, it is the same content.
  const copy = await client(BOB).rebase(snap.uuid);
  assert.equal(copy.identifier, identifierFromSha1(sha1(content)));
  assert.deepEqual(await download(client(BOB), copy.uuid), content);
  // The content is hers to upload again: her deleted volume is no duplicate.
  const again = await upload(client(ALICE), content);
  assert.equal(again.owner, 'alice');

  // Her own snapshot, unlike his, does hold her volume.
  ok(await cli(ALICE, ['update-volume', again.uuid, '--machine-image-origin']));
  const own = await client(ALICE).snapshot(again.uuid);
  assert.match((await cli(ALICE, ['delete-volume', again.uuid])).stderr, /\[ERROR\] disk \(.*\) has 1 copy-on-write snapshots/);

  assert.equal((await call(base, 'DELETE', `/pswd/disks/${snap.uuid}`, BOB)).status, 200);
  assert.ok(!existsSync(join(volumesDir, `${origin.uuid}.raw`)), 'his last snapshot took the deleted origin along');
  for (const [who, v] of [[BOB, copy.uuid], [ALICE, own.uuid], [ALICE, again.uuid]] as const) {
    assert.equal((await call(base, 'DELETE', `/pswd/disks/${v}`, who)).status, 200);
  }
  await assertConsistent(client(ADMIN), volumesDir, 'after the snapshot rights');
});

test("bob cannot fill alice's mount slots: other accounts share ten, and the owner keeps her own ten", async () => {
  const uuid = await createVolume(ALICE, '--public');
  for (let vm = 1; vm <= 10; vm++) assert.equal((await mount(BOB, uuid, `b${vm}`)).status, 201, `bob's mount ${vm}`);
  assertError(await mount(BOB, uuid, 'b11'), 409, 'VOLUME_IN_USE', `DISK ${uuid}: Disk not available (10/10 mounts by accounts other than its owner)`);
  assertError(await mount(CAROL, uuid, 'c1'), 409, 'VOLUME_IN_USE');
  for (let vm = 1; vm <= 10; vm++) assert.equal((await mount(ALICE, uuid, `a${vm}`)).status, 201, `alice's mount ${vm}, bob's ten notwithstanding`);
  assertError(await mount(ALICE, uuid, 'a11'), 409, 'VOLUME_IN_USE', `DISK ${uuid}: Disk not available (10/10 mounts)`);

  // A VM id bob claimed first is no obstacle to hers: her mount replaces his claim.
  for (let vm = 1; vm <= 10; vm++) assert.equal((await unmount(ALICE, uuid, `a${vm}`)).status, 200);
  assert.equal((await mount(ALICE, uuid, 'b3')).status, 201);
  assert.ok(!(await mountIds(BOB, uuid)).includes('b3'), "bob's claim on that VM is gone");
  assertError(await mount(BOB, uuid, 'b3'), 409, 'VOLUME_IN_USE');

  assert.equal((await unmount(ALICE, uuid, 'b3')).status, 200);
  assert.equal(ok(await cli(ALICE, ['delete-volume', uuid])).stdout, `DELETED ${uuid}\n`, "bob's nine mounts do not hold her back");
  await assertConsistent(client(ADMIN), volumesDir, 'after the mount slots');
});

test("a duplicate upload by bob tells nothing about alice's private image", async () => {
  const secret = image(91);
  const fresh = image(92);
  writeFileSync(join(work, 'secret.img'), secret);
  writeFileSync(join(work, 'fresh.img'), fresh);
  const uploaded = (r: CliResult): string => {
    const m = /^Image uploaded: \S+\/pswd\/disks\/([0-9a-f-]{36})$/m.exec(ok(r).stdout);
    assert.ok(m, r.stdout);
    return m[1] as string;
  };
  const hers = uploaded(await cli(ALICE, ['upload-image', '--image-only', '--private', 'secret.img']));

  // Bob's upload of her image and of an image nobody has look alike: each makes his own volume.
  const probe = await cli(BOB, ['upload-image', '--image-only', 'secret.img']);
  const control = await cli(BOB, ['upload-image', '--image-only', 'fresh.img']);
  const his = uploaded(probe);
  uploaded(control);
  assert.equal(probe.stdout.replace(his, 'UUID'), control.stdout.replace(/[0-9a-f-]{36}/, 'UUID'));
  const id = identifierFromSha1(sha1(secret));
  const listed = JSON.parse(ok(await cli(BOB, ['describe-volumes', '--json', '-f', `identifier:^${id}$`])).stdout) as VolumeInfo[];
  assert.deepEqual(listed.map((v) => [v.uuid, v.owner]), [[his, 'bob']], 'he sees his own copy only');

  // Over HTTP too: the answer to a third copy is about his own volume and names none of hers.
  const a = await postUpload(base, BOB, gzipSync(secret), true);
  assertError(a, 409, 'VOLUME_DUPLICATE', 'Disk already registered');
  assert.ok(a.text.includes(his), a.text);
  assert.ok(!a.text.includes(hers), a.text);
  const c = await postUpload(base, CAROL, gzipSync(secret), true);
  assert.equal(c.status, 201, c.text);
  assert.ok(!c.text.includes(hers) && !c.text.includes('alice'), c.text);

  // Alice still gets her duplicate answer, about her own volume.
  const own = await postUpload(base, ALICE, gzipSync(secret), true);
  assertError(own, 409, 'VOLUME_DUPLICATE');
  assert.ok(own.text.includes(hers), own.text);
  for (const v of await client(ADMIN).list()) await client(ADMIN).delete(v.uuid);
  await assertConsistent(client(ADMIN), volumesDir, 'after the duplicate probe');
});

test("bob neither deletes nor changes alice's volumes, PUBLIC or not; the admin may", async () => {
  const open = await createVolume(ALICE, '--public', '-t', 'open');
  const closed = await createVolume(ALICE, '-t', 'closed');
  for (const prefix of ['/pswd/disks', '/disks']) {
    assertError(await call(base, 'DELETE', `${prefix}/${open}`, BOB), 403, 'FORBIDDEN');
    assertError(await call(base, 'PUT', `${prefix}/${open}`, BOB, { body: { tag: 'mine', visibility: 'PRIVATE' } }), 403, 'FORBIDDEN');
    assertError(await call(base, 'DELETE', `${prefix}/${closed}`, BOB), 404, 'VOLUME_NOT_FOUND', `no volume ${closed}`);
  }
  const del = await cli(BOB, ['delete-volume', open, closed]);
  assert.equal(del.code, 1);
  assert.equal(del.stdout, '');
  assert.match(del.stderr, /only its owner or an admin may change it[\s\S]*no volume/);
  const mine = JSON.parse(ok(await cli(ALICE, ['describe-volumes', '--json'])).stdout) as VolumeInfo[];
  assert.deepEqual(mine.map((v) => [v.tag, v.visibility]).sort(), [['closed', 'PRIVATE'], ['open', 'PUBLIC']], 'nothing changed');
  assert.equal(ok(await cli(ADMIN, ['delete-volume', open, closed])).stdout, `DELETED ${open}\nDELETED ${closed}\n`);
  await assertConsistent(client(ADMIN), volumesDir, 'after the deletion rights');
});
