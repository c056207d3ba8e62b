/**
 * The persistent disk service against a real `stratus serve` process on a real SQLite data dir,
 * over HTTP: rights (§7.1), documented errors, copy-on-write snapshots, restarts and a full
 * disk. After every error the database and the files must still agree (assertConsistent).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import type { Credentials } from '../../src/client/pdisk-client.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import { pseudoRandom } from '../conformance/volume-driver.js';
import type { VolumeInfo } from '../../src/domain/volume.js';
import { assertConsistent, assertError, basic, call, download, eventually, image, postUpload, rejects, sha1, streamOf, tmpEmpty, upload } from '../helpers/pdisk.js';
import { startServerProcess } from '../helpers/server.js';
import type { ServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const ADMIN: Credentials = { username: 'admin', password: 'admin-pdisk-password' };
const ALICE: Credentials = { username: 'alice', password: 'alice-password-1' };
const BOB: Credentials = { username: 'bob', password: 'bob-password-22' };
const env = { STRATUS_ADMIN_PASSWORD: ADMIN.password };

/** The median of a list of numbers. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

// ---------------------------------------------------------------------------------------------
// The main server. Servers and directories are made here, at the top level, so that their
// after() hooks run when the file ends (inside a before() hook they would run when it ends).

const dataDir = tempDir('stratus-pdisk-api-');
const volumesDir = join(dataDir, 'volumes');
let server: ServerProcess = await startServerProcess(dataDir, [], env);
let base = server.url;
const admin = (): PdiskClient => new PdiskClient(base, ADMIN);
const alice = (): PdiskClient => new PdiskClient(base, ALICE);
const bob = (): PdiskClient => new PdiskClient(base, BOB);
await admin().addUser({ ...ALICE });
await admin().addUser({ ...BOB });

// The disk-full server: its volumes live on a 16 MiB tmpfs. Stopped, unmounted and removed in
// that order by one after() hook.
const fullRoot = mkdtempSync(join(tmpdir(), 'stratus-pdisk-full-'));
const smallDir = join(fullRoot, 'small');
const fullData = join(fullRoot, 'data');
mkdirSync(smallDir);
mkdirSync(fullData);
let fullServer: ServerProcess | undefined;
let mountError: string | undefined;
after(async () => {
  await fullServer?.stop();
  if (!mountError) spawnSync('umount', [smallDir]);
  rmSync(fullRoot, { recursive: true, force: true });
});
{
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', smallDir], { encoding: 'utf8' });
  if (r.status !== 0) mountError = `cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): ${(r.stderr || r.error?.message || '').trim()}`;
}
if (!mountError) {
  writeFileSync(join(fullData, 'stratus.cfg'), `[pdisk]\nvolumes_dir = ${smallDir}\n`);
  fullServer = await startServerProcess(fullData, [], env);
}

// ---------------------------------------------------------------------------------------------

test('rights: A creates, uploads, tags and deletes; B sees none of it (404) until PUBLIC, and never deletes; the admin sees all', async () => {
  const a = alice();
  const b = bob();
  const data = await a.create({ size: 1, tag: 'alice-data' });
  assert.equal(data.owner, 'alice');
  assert.equal(data.visibility, 'PRIVATE');
  assert.equal(data.type, 'DATA_IMAGE_RAW_READ_WRITE');
  assert.equal(data.size, 1);
  assert.equal(data.identifier, '');

  const content = image(1);
  const img = await upload(a, content, { tag: 'alice-image' });
  assert.equal(img.owner, 'alice');
  assert.equal(img.identifier, identifierFromSha1(sha1(content)), 'the identifier is the Marketplace ID of the inflated content');
  assert.equal(img.type, 'DATA_IMAGE_RAW_READONLY');
  assert.equal(img.bytes, content.length);
  assert.equal(img.size, 1);
  assert.equal((await a.update(img.uuid, { tag: 'alice-renamed' })).tag, 'alice-renamed');
  assert.deepEqual((await a.list()).map((v) => v.uuid).sort(), [data.uuid, img.uuid].sort());
  assert.ok((await download(a, img.uuid)).equals(content));
  const served = await a.download(img.uuid);
  const servedBytes: Buffer[] = [];
  for await (const c of served) servedBytes.push(c as Buffer);
  assert.ok(Buffer.concat(servedBytes).equals(gzipSync(content)), 'the gzip served is the one uploaded (kept, not recompressed)');

  // B: A's private volumes do not exist, whatever B tries; the answer is that of a uuid nobody has.
  const nobody = randomUUID();
  assert.deepEqual(await b.list(), []);
  for (const uuid of [data.uuid, img.uuid, nobody]) {
    const tries: Array<[string, string, unknown]> = [
      ['GET', `/pswd/disks/${uuid}`, undefined],
      ['PUT', `/pswd/disks/${uuid}`, { tag: 'bob-was-here' }],
      ['DELETE', `/pswd/disks/${uuid}`, undefined],
      ['POST', `/pswd/disks/${uuid}/snapshot`, {}],
      ['POST', `/pswd/disks/${uuid}/mounts`, { node: 'n1', vm_id: '7' }],
      ['GET', `/pswd/disks/${uuid}/mounts`, undefined],
    ];
    for (const [method, path, body] of tries) {
      assertError(await call(base, method, path, BOB, { body }), 404, 'VOLUME_NOT_FOUND', `no volume ${uuid}`);
    }
    assertError(await call(base, 'GET', `/pswd/disks/${uuid}`, BOB, { accept: 'application/x-gzip' }), 404, 'VOLUME_NOT_FOUND');
  }
  assert.equal((await a.get(data.uuid)).tag, 'alice-data', "B's update did not happen");

  // PUBLIC: B reads (JSON and gzip), still cannot change or delete.
  assert.equal((await a.update(img.uuid, { visibility: 'public' })).visibility, 'PUBLIC');
  const seen = await b.get(img.uuid);
  assert.equal(seen.owner, 'alice');
  assert.equal(seen.identifier, img.identifier);
  assert.ok((await download(b, img.uuid)).equals(content), 'B downloads the PUBLIC image');
  assert.deepEqual((await b.list()).map((v) => v.uuid), [img.uuid], 'B lists the PUBLIC volume, not the private one');
  assertError(await call(base, 'DELETE', `/pswd/disks/${img.uuid}`, BOB), 403, 'FORBIDDEN');
  assertError(await call(base, 'PUT', `/pswd/disks/${img.uuid}`, BOB, { body: { tag: 'mine' } }), 403, 'FORBIDDEN');
  assertError(await call(base, 'PUT', `/pswd/disks/${img.uuid}`, BOB, { body: { visibility: 'private' } }), 403, 'FORBIDDEN');
  assert.equal((await a.get(img.uuid)).tag, 'alice-renamed');
  assert.equal((await a.get(img.uuid)).visibility, 'PUBLIC');

  // The admin sees and edits everything.
  const bobs = await b.create({ size: 2, tag: 'bob-data' });
  const all = (await admin().list()).map((v) => v.uuid);
  for (const u of [data.uuid, img.uuid, bobs.uuid]) assert.ok(all.includes(u), `the admin lists ${u}`);
  assert.equal((await admin().get(data.uuid)).owner, 'alice');
  assert.equal((await admin().update(data.uuid, { tag: 'by-admin' })).tag, 'by-admin');
  assert.ok(!(await a.list()).some((v) => v.uuid === bobs.uuid), "A does not see B's private volume");
  assertError(await call(base, 'DELETE', `/pswd/disks/${bobs.uuid}`, ALICE), 404, 'VOLUME_NOT_FOUND');
  assert.equal(await admin().delete(bobs.uuid), bobs.uuid, 'the admin deletes anyone\'s volume');

  // A deletes its own.
  assert.equal(await a.delete(data.uuid), data.uuid);
  assert.equal(await a.delete(img.uuid), img.uuid);
  assertError(await call(base, 'GET', `/pswd/disks/${img.uuid}`, ALICE), 404, 'VOLUME_NOT_FOUND');
  assert.deepEqual(await a.list(), []);
  await assertConsistent(admin(), volumesDir, 'after the rights matrix');
});

test('missing or wrong credentials: 401 with a Basic challenge and no detail', async () => {
  const vol = await alice().create({ size: 1 });
  const answers: string[] = [];
  const cases: Array<[string, string | undefined]> = [
    ['no credentials', undefined],
    ['unknown user', basic({ username: 'mallory', password: ALICE.password })],
    ['wrong password', basic({ username: 'alice', password: 'not-her-password' })],
    ['empty password', basic({ username: 'alice', password: '' })],
    ['not Basic', 'Bearer abc'],
  ];
  for (const [what, auth] of cases) {
    for (const [method, path] of [['GET', '/pswd/disks/'], ['GET', `/pswd/disks/${vol.uuid}`], ['DELETE', `/pswd/disks/${vol.uuid}`], ['POST', '/pswd/disks/']]) {
      // Reading one volume needs no account; without one a private volume is simply absent (pdisk-public tests it).
      if (what === 'no credentials' && method === 'GET' && path !== '/pswd/disks/') continue;
      const a = await call(base, method as string, path as string, undefined, auth === undefined ? {} : { auth });
      assertError(a, 401, 'AUTH_REQUIRED');
      assert.match(a.headers.get('www-authenticate') ?? '', /^Basic realm="Stratus"/, `${what}: challenge`);
      assert.doesNotMatch(a.text, /alice|mallory|unknown user|password is|no such/i, `${what}: no detail`);
      if (what === 'unknown user' || what === 'wrong password') answers.push(a.text);
    }
  }
  assert.equal(new Set(answers).size, 1, `unknown user and wrong password answer the same body: ${[...new Set(answers)].join(' | ')}`);
  assert.equal((await alice().get(vol.uuid)).uuid, vol.uuid, 'the DELETEs without credentials did nothing');
  await alice().delete(vol.uuid);
  await assertConsistent(admin(), volumesDir, 'after the 401s');
});

test('quota exceeded (volume count and GiB), for create and upload; nothing is kept', async () => {
  const b = bob();
  await admin().setQuota('bob', { volumes: 1 });
  assertError(await call(base, 'PUT', '/users/bob/quota', BOB, { body: { volumes: 100 } }), 403, 'FORBIDDEN');
  const first = await b.create({ size: 1 });
  assertError(await call(base, 'POST', '/pswd/disks/', BOB, { body: { size: 1 } }), 507, 'QUOTA_EXCEEDED', 'quota exceeded: bob has 1 volumes and may have 1');
  await rejects(upload(b, image(20)), 'QUOTA_EXCEEDED', /bob has 1 volumes and may have 1/);
  await assertConsistent(admin(), volumesDir, 'after a volume-count quota refusal');

  await admin().setQuota('bob', { volumes: null, gib: 3 });
  assertError(await call(base, 'POST', '/pswd/disks/', BOB, { body: { size: 3 } }), 507, 'QUOTA_EXCEEDED',
    'quota exceeded: bob uses 1 GiB; 3 GiB more would pass the limit of 3 GiB');
  const second = await b.create({ size: 2 });
  // No GiB is left, so the upload is refused before any byte is stored (pdisk-limits tests uploads that pass the quota halfway).
  await rejects(upload(b, image(21)), 'QUOTA_EXCEEDED', /^quota exceeded: bob uses 3 GiB of a 3 GiB quota; this upload needs 1 GiB$/);
  assert.deepEqual((await b.list()).map((v) => v.uuid).sort(), [first.uuid, second.uuid].sort());
  await assertConsistent(admin(), volumesDir, 'after a GiB quota refusal of an upload');

  await admin().setQuota('bob', { gib: null });
  const third = await upload(b, image(21));
  for (const v of [first, second, third]) await b.delete(v.uuid);
  await assertConsistent(admin(), volumesDir, 'after the quota test');
});

test('bad UUID: 400 "Invalid UUID …" on every volume route', async () => {
  for (const [method, path, body] of [
    ['GET', '/pswd/disks/not-a-uuid', undefined],
    ['PUT', '/pswd/disks/not-a-uuid', { tag: 'x' }],
    ['DELETE', '/pswd/disks/not-a-uuid', undefined],
    ['POST', '/pswd/disks/not-a-uuid/snapshot', {}],
    ['POST', '/pswd/disks/not-a-uuid/rebase', {}],
    ['GET', '/pswd/disks/not-a-uuid/mounts', undefined],
    ['POST', '/pswd/disks/not-a-uuid/mounts', { node: 'n', vm_id: '1' }],
  ] as Array<[string, string, unknown]>) {
    assertError(await call(base, method, path, ALICE, { body }), 400, 'VOLUME_INVALID', 'Invalid UUID not-a-uuid');
  }
  assertError(await call(base, 'GET', '/pswd/disks/12345678-1234-1234-1234-12345678901', ALICE), 400, 'VOLUME_INVALID', /^Invalid UUID /);
  await assertConsistent(admin(), volumesDir, 'after bad UUIDs');
});

test("duplicate identifier: the same content uploaded twice by one account is 409 'Disk already registered'; another account gets its own volume", async () => {
  const content = image(30);
  const first = await upload(alice(), content);
  await rejects(upload(alice(), content), 'VOLUME_DUPLICATE', /^Disk already registered$/);
  // A raw (uncompressed) upload of the same content has the same identifier.
  await rejects(alice().upload(streamOf(content), { gzipped: false, size: content.length }), 'VOLUME_DUPLICATE');
  const bobs = await upload(bob(), content);
  assert.equal(bobs.identifier, first.identifier);
  assert.equal(bobs.owner, 'bob');
  assert.deepEqual((await admin().list()).filter((v) => v.identifier === first.identifier).map((v) => v.owner).sort(), ['alice', 'bob']);
  await assertConsistent(admin(), volumesDir, 'after duplicate uploads');
  await alice().delete(first.uuid);
  await bob().delete(bobs.uuid);
  await assertConsistent(admin(), volumesDir, 'after the duplicate test');
});

test('a volume in use (mounted, or an origin with snapshots) cannot be deleted', async () => {
  const a = alice();
  const vol = await a.create({ size: 1 });
  const m = await a.mount(vol.uuid, 'node-1', '42');
  assert.equal(m.target, 'vdz');
  assert.equal((await a.get(vol.uuid)).count, 1);
  assertError(await call(base, 'DELETE', `/pswd/disks/${vol.uuid}`, ALICE), 409, 'VOLUME_IN_USE', `disk (${vol.uuid}) is in use and can't be deleted`);
  assertError(await call(base, 'DELETE', `/pswd/disks/${vol.uuid}`, ADMIN), 409, 'VOLUME_IN_USE', `disk (${vol.uuid}) is in use and can't be deleted`);
  await assertConsistent(admin(), volumesDir, 'after refusing to delete a mounted volume');
  await a.unmount(vol.uuid, '42');
  await a.delete(vol.uuid);

  const origin = await upload(a, image(40));
  await a.update(origin.uuid, { type: 'MACHINE_IMAGE_ORIGIN' });
  const snap = await a.snapshot(origin.uuid);
  assertError(await call(base, 'DELETE', `/pswd/disks/${origin.uuid}`, ALICE), 409, 'VOLUME_IN_USE', /has 1 copy-on-write snapshots and can't be deleted/);
  await assertConsistent(admin(), volumesDir, 'after refusing to delete an origin');
  await a.delete(snap.uuid);
  await a.delete(origin.uuid);
  await assertConsistent(admin(), volumesDir, 'after the in-use test');
});

test('an upload cut off halfway, a truncated gzip or garbage: no volume, no partial file', async () => {
  const before = (await admin().list()).length;
  const content = pseudoRandom(8 * MIB, 50);
  const gz = gzipSync(content);

  // The client announces the whole length, sends an eighth, and vanishes.
  await new Promise<void>((resolve, reject) => {
    const req = httpRequest(`${base}/pswd/disks/`, {
      method: 'POST',
      headers: { authorization: basic(ALICE), 'content-type': 'application/gzip', 'content-length': String(gz.length), accept: 'application/json' },
    });
    req.on('error', () => resolve()); // the socket we destroy
    req.on('response', (res) => reject(new Error(`the server answered ${res.statusCode} to a half-sent upload`)));
    req.write(gz.subarray(0, gz.length >> 3), () => {
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
  });
  await eventually('the server removes the partial upload', () => tmpEmpty(volumesDir));
  assert.equal((await admin().list()).length, before);
  await assertConsistent(admin(), volumesDir, 'after an upload cut off halfway');

  // A complete request whose gzip stream stops short.
  assertError(await postUpload(base, ALICE, gz.subarray(0, gz.length >> 1), true), 400, 'UPLOAD_INCOMPLETE', /not a complete gzip stream \(unexpected end of file/);
  await assertConsistent(admin(), volumesDir, 'after a truncated gzip');

  // Not gzip at all: refused on the first bytes, while the client is still sending. The answer
  // must reach the client (the rest of the body is drained, not reset), and the server must
  // survive the write to the kept gzip copy that was in flight when the upload failed.
  for (let i = 0; i < 3; i++) {
    assertError(await postUpload(base, ALICE, content, true), 400, 'UPLOAD_INCOMPLETE', /not a complete gzip stream \(incorrect header check/);
  }
  assert.equal((await admin().list()).length, before);
  await assertConsistent(admin(), volumesDir, 'after a body that is not gzip');

  // The same content, whole, is accepted afterwards: nothing of the failed tries is in the way.
  const ok = await alice().upload(streamOf(gz), { gzipped: true, size: gz.length });
  assert.equal(ok.identifier, identifierFromSha1(sha1(content)));
  await alice().delete(ok.uuid);
  await assertConsistent(admin(), volumesDir, 'after the cut-off test');
});

test('copy-on-write snapshots take the same time for 10 GiB and 1 MiB; writing to one leaves the origin unchanged; rebase', async () => {
  const a = alice();
  const big = await a.create({ size: 10, tag: 'ten-gib' });
  assert.equal((await a.update(big.uuid, { type: 'MACHINE_IMAGE_ORIGIN' })).type, 'MACHINE_IMAGE_ORIGIN');
  const content = image(60, 1);
  const small = await upload(a, content, { tag: 'one-mib' });
  await a.update(small.uuid, { type: 'MACHINE_IMAGE_ORIGIN' });
  assert.ok(statSync(join(volumesDir, `${big.uuid}.raw`)).blocks * 512 < MIB, 'the 10 GiB origin is sparse');

  const timed = async (uuid: string): Promise<[number, VolumeInfo]> => {
    const t0 = performance.now();
    const s = await a.snapshot(uuid);
    return [performance.now() - t0, s];
  };
  const times: Record<'big' | 'small', number[]> = { big: [], small: [] };
  const snaps: Record<'big' | 'small', VolumeInfo[]> = { big: [], small: [] };
  for (let i = 0; i < 5; i++) {
    for (const [k, v] of [['big', big], ['small', small]] as const) {
      const [ms, s] = await timed(v.uuid);
      times[k].push(ms);
      snaps[k].push(s);
    }
  }
  const mBig = median(times.big);
  const mSmall = median(times.small);
  const detail = `10 GiB: ${times.big.map((t) => t.toFixed(1)).join(', ')} ms; 1 MiB: ${times.small.map((t) => t.toFixed(1)).join(', ')} ms`;
  assert.ok(mBig < mSmall * 2 + 50, `snapshot time depends on size: ${detail}`);
  assert.ok(mBig < 1000 && mSmall < 1000, `snapshots are slow: ${detail}`);
  for (const s of snaps.big) {
    assert.equal(s.type, 'MACHINE_IMAGE_LIVE');
    assert.equal(s.identifier, `snapshot:${big.uuid}`);
    assert.equal(s.size, 10);
    assert.equal(s.format, 'qcow2');
    assert.ok(statSync(join(volumesDir, `${s.uuid}.qcow2`)).size < MIB, 'an overlay holds no data');
  }
  assert.equal((await a.get(big.uuid)).count, 5, "an origin's count is its number of snapshots");
  // StratusLab's form: an empty POST on an origin snapshots it.
  const viaPost = JSON.parse((await call(base, 'POST', `/pswd/disks/${small.uuid}`, ALICE, { body: {} })).text) as VolumeInfo;
  assert.equal(viaPost.identifier, `snapshot:${small.uuid}`);

  // Write into one snapshot's qcow2 as a running machine would.
  const originFile = join(volumesDir, `${small.uuid}.raw`);
  const originSha1 = sha1(readFileSync(originFile));
  assert.equal(originSha1, sha1(content));
  const target = snaps.small[2] as VolumeInfo;
  const w = spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x55 0 64k', '-c', 'write -P 0xaa 300k 8k', join(volumesDir, `${target.uuid}.qcow2`)], { encoding: 'utf8' });
  assert.equal(w.status, 0, `qemu-io: ${w.stderr}`);
  const written = Buffer.from(content);
  written.fill(0x55, 0, 64 * KIB);
  written.fill(0xaa, 300 * KIB, 308 * KIB);
  assert.equal(sha1(readFileSync(originFile)), originSha1, "the origin's file is unchanged");
  assert.equal(sha1(await download(a, small.uuid)), originSha1, 'the origin downloads unchanged');
  assert.equal(sha1(await download(a, target.uuid)), sha1(written), 'the snapshot downloads with its writes');
  assert.equal(sha1(await download(a, (snaps.small[0] as VolumeInfo).uuid)), originSha1, 'other snapshots are unaffected');

  // Rebase: a standalone origin identified by the written content.
  const rebased = await a.rebase(target.uuid);
  assert.equal(rebased.type, 'MACHINE_IMAGE_ORIGIN');
  assert.equal(rebased.identifier, identifierFromSha1(sha1(written)));
  assert.equal(rebased.format, 'raw');
  assert.equal(rebased.origin, null);
  assert.equal(rebased.bytes, written.length);
  assert.equal(sha1(readFileSync(join(volumesDir, `${rebased.uuid}.raw`))), sha1(written));
  assert.equal(sha1(await download(a, rebased.uuid)), sha1(written));
  assertError(await call(base, 'POST', `/pswd/disks/${rebased.uuid}/rebase`, ALICE, { body: {} }), 409, 'VOLUME_STATE');
  assertError(await call(base, 'POST', `/pswd/disks/${target.uuid}/snapshot`, ALICE, { body: {} }), 409, 'VOLUME_STATE');
  await assertConsistent(admin(), volumesDir, 'after snapshots and rebase');

  // The 10 GiB family goes (snapshots first), so that the restart test reads small volumes only.
  for (const s of snaps.big) await a.delete(s.uuid);
  await a.delete(big.uuid);
  await assertConsistent(admin(), volumesDir, 'after deleting the 10 GiB snapshots and origin');
});

test('a server restart loses nothing: volumes, contents, mounts', async () => {
  const a = alice();
  // Something of every kind: uploaded, empty, origin + snapshot (from the previous test), mounted, public.
  const uploaded = await upload(a, image(70), { tag: 'before-restart', visibility: 'public' });
  const empty = await a.create({ size: 1, tag: 'empty' });
  await a.mount(empty.uuid, 'node-9', '99');
  const origin = await upload(a, image(71), { tag: 'origin' });
  await a.update(origin.uuid, { type: 'MACHINE_IMAGE_ORIGIN' });
  const snap = await a.snapshot(origin.uuid);
  const w = spawnSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x77 4k 4k', join(volumesDir, `${snap.uuid}.qcow2`)], { encoding: 'utf8' });
  assert.equal(w.status, 0, `qemu-io: ${w.stderr}`);
  const rows = await assertConsistent(admin(), volumesDir, 'before the restart');
  const contents = new Map<string, string>();
  for (const r of rows) contents.set(r.uuid, sha1(await download(admin(), r.uuid)));

  await server.stop();
  server = await startServerProcess(dataDir, [], env);
  base = server.url;
  assert.doesNotMatch(server.log(), /Cleaned up|WARNING/, 'nothing to repair after a clean stop');

  const again = await assertConsistent(admin(), volumesDir, 'after the restart');
  const norm = (vs: VolumeInfo[]): VolumeInfo[] => [...vs].sort((x, y) => x.uuid.localeCompare(y.uuid));
  assert.deepEqual(norm(again), norm(rows));
  for (const r of again) assert.equal(sha1(await download(admin(), r.uuid)), contents.get(r.uuid), `content of ${r.uuid} (${r.type})`);
  assert.deepEqual((await alice().mounts(empty.uuid)).map((m) => [m.vmId, m.node, m.target]), [['99', 'node-9', 'vdz']]);
  assert.equal((await bob().get(uploaded.uuid)).visibility, 'PUBLIC');
  assert.equal((await alice().me()).username, 'alice', 'accounts survive too');
  assertError(await call(base, 'DELETE', `/pswd/disks/${empty.uuid}`, ALICE), 409, 'VOLUME_IN_USE');
});

test('disk full: 507 STORAGE_FULL with a clear message; existing volumes intact; no temporary files', async () => {
  // The set-up contract runs tests as root with mount rights; without them this is a set-up bug, not a skip.
  assert.equal(mountError, undefined, mountError);
  const srv = fullServer as ServerProcess;
  const adm = new PdiskClient(srv.url, ADMIN);
  const existing = image(80, 2);
  const kept = await upload(adm, existing, { tag: 'kept' });
  const free = (): number => {
    const r = spawnSync('df', ['-B1', '--output=avail', smallDir], { encoding: 'utf8' });
    return Number(r.stdout.trim().split('\n').pop());
  };
  const freeBefore = free();

  // 24 MiB of incompressible data: neither its gzip copy nor its content fits in 16 MiB.
  const big = pseudoRandom(24 * MIB, 81);
  const gz = gzipSync(big, { level: 1 });
  // fetch, not PdiskClient, for uploads refused before their end: Node's http client stops
  // sending the rest of a body once an early answer has come, and the stalled connection keeps
  // the server from stopping until its keep-alive timeout (72 s).
  assertError(await postUpload(srv.url, ADMIN, gz, true), 507, 'STORAGE_FULL', /^no space left on the device holding /);
  await eventually('the failed upload is removed', () => tmpEmpty(smallDir));
  assert.equal(free(), freeBefore, 'the space the failed upload took is given back');
  // Uncompressed (no kept copy): the content itself fills the disk.
  assertError(await postUpload(srv.url, ADMIN, big, false), 507, 'STORAGE_FULL', /^no space left on the device holding /);
  await eventually('the failed upload is removed', () => tmpEmpty(smallDir));
  assert.equal(free(), freeBefore, 'the space the failed upload took is given back');
  assert.ok(srv.child.exitCode === null, `the server is still running:\n${srv.log()}`);
  const rows = await assertConsistent(adm, smallDir, 'after a full disk');
  assert.deepEqual(rows.map((r) => r.uuid), [kept.uuid]);
  assert.ok((await download(adm, kept.uuid)).equals(existing), 'the existing volume is intact and readable');

  // An empty volume larger than the disk is fine (sparse); an upload that fits still works.
  const sparse = await adm.create({ size: 5 });
  const small = image(82, 1);
  const fits = await upload(adm, small);
  assert.ok((await download(adm, fits.uuid)).equals(small));
  assert.equal(sparse.size, 5);
  await assertConsistent(adm, smallDir, 'after the disk-full test');
});
