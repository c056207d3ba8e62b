/**
 * Plain http(s) URLs as run-instance's image (§1.1's third form), and image origins that keep
 * their format, against a real `stratus serve` (user-mode instances) and a loopback web server.
 * The images are one-sector disks that print a banner on the console and halt: QEMU runs them
 * for real, in no time, and the console shows whether the disk was read as what it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startServerProcess } from '../helpers/server.js';
import { startFileServer } from '../helpers/file-server.js';
import { addAccount } from '../helpers/cloud.js';
import { ok, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { bannerDisk, imageFacts, qcow2Of } from '../helpers/tiny-image.js';
import { run as runTool } from '../../src/platform/run.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import type { VolumeInfo } from '../../src/domain/volume.js';

const dir = tempDir('stratus-url-images-');
const dataDir = join(dir, 'data');
mkdirSync(dataDir, { recursive: true });
// The test's web server is on loopback, which a plain URL may reach only when the admin says so.
writeFileSync(join(dataDir, 'stratus.cfg'), '[instances]\nurl_allow = 127.0.0.1\nurl_max_mib = 4\n');
const ADMIN = { username: 'admin', password: 'admin-url-pass' };
const ALICE = { username: 'alice', password: 'alice-url-pass' };
const BOB = { username: 'bob', password: 'bob-url-pass' };
const server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
await addAccount(server.url, ADMIN, ALICE.username, ALICE.password);
await addAccount(server.url, ADMIN, BOB.username, BOB.password);
const web = await startFileServer();

const raw = bannerDisk('STRATUS URL RAW BOOTED');
const qcow2 = await qcow2Of(bannerDisk('STRATUS URL QCOW2 BOOTED'), dir, 'url-image');
web.serve('/tiny.img', { body: raw });
web.serve('/tiny.img.gz', { body: gzipSync(raw) });
web.serve('/tiny.qcow2', { body: qcow2 });
web.serve('/blank.img', { body: Buffer.alloc(1024 * 1024) });
web.serve('/big.img', { body: Buffer.alloc(6 * 1024 * 1024) });
web.redirect('/moved.img', '/tiny.img');

type Who = { username: string; password: string };
const basic = (u: Who): string => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;

async function api<T>(who: Who, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const res = await fetch(`${server.url}${path}`, {
    method, headers: { accept: 'application/json', authorization: basic(who), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : undefined) as T };
}

/** POST /instances; errors answer StratusLab's way, the message under the status code. */
async function runImage(who: Who, image: string, extra: Record<string, unknown> = {}): Promise<{ status: number; vms: InstanceInfo[]; code?: string; message?: string }> {
  const r = await api<InstanceInfo[] & Record<string, string>>(who, 'POST', '/instances', { image, cpu: 1, ramMiB: 64, ...extra });
  return r.status === 201 ? { status: 201, vms: r.json } : { status: r.status, vms: [], code: r.json.code, message: r.json[String(r.status)] };
}

const volumesOf = async (who: Who): Promise<VolumeInfo[]> => (await api<VolumeInfo[]>(who, 'GET', '/pswd/disks/')).json;

async function consoleOf(who: Who, id: number, want: RegExp): Promise<string> {
  let text = '';
  for (let i = 0; i < 100 && !want.test(text); i++) {
    await new Promise((r) => setTimeout(r, 200));
    text = await (await fetch(`${server.url}/instances/${id}/console`, { headers: { authorization: basic(who) } })).text();
  }
  return text;
}

/** Nothing of a refused run is left: no download, no temporary file, no instance directory, no live instance. */
async function assertNoOrphans(): Promise<void> {
  const scratch = join(dataDir, 'volumes', '.cache');
  assert.deepEqual(existsSync(scratch) ? readdirSync(scratch) : [], [], 'no download left in the scratch dir');
  assert.deepEqual(readdirSync(join(dataDir, 'volumes', '.tmp')), [], 'no temporary volume file');
  const instances = join(dataDir, 'instances');
  assert.deepEqual(existsSync(instances) ? readdirSync(instances) : [], [], 'no instance directory');
  assert.deepEqual((await api<InstanceInfo[]>(ADMIN, 'GET', '/instances')).json, [], 'no live instance');
}

async function kill(who: Who, id: number): Promise<void> {
  assert.equal((await api(who, 'DELETE', `/instances/${id}`)).status, 200);
}

test('a plain URL runs: the server fetches it into an origin volume owned by and PRIVATE to the user, the instance boots a snapshot of it, and the gzip of the same image gives the same origin', async () => {
  const started = await runImage(ALICE, `${web.url}/tiny.img`);
  assert.equal(started.status, 201, started.message);
  const vm = started.vms[0] as InstanceInfo;
  assert.match(await consoleOf(ALICE, vm.id, /STRATUS URL RAW BOOTED/), /STRATUS URL RAW BOOTED/);
  const mine = await volumesOf(ALICE);
  const snapshot = mine.find((v) => v.uuid === vm.disk) as VolumeInfo;
  const origin = mine.find((v) => v.uuid === snapshot.origin) as VolumeInfo;
  assert.ok(origin, 'the origin is listed among the user\'s volumes');
  assert.deepEqual([origin.owner, origin.visibility, origin.type, origin.format, origin.identifier, origin.bytes],
    ['alice', 'PRIVATE', 'MACHINE_IMAGE_ORIGIN', 'raw', `url:raw:${imageFacts(raw).identifier}`, raw.length]);
  await kill(ALICE, vm.id);

  // The same bytes, gzipped: gunzipped on the way in, and the user's origin of them is reused.
  const again = await runImage(ALICE, `${web.url}/tiny.img.gz`);
  assert.equal(again.status, 201, again.message);
  const second = again.vms[0] as InstanceInfo;
  assert.equal((await volumesOf(ALICE)).find((v) => v.uuid === second.disk)?.origin, origin.uuid);
  await kill(ALICE, second.id);
  assert.equal((await volumesOf(ALICE)).filter((v) => v.type === 'MACHINE_IMAGE_ORIGIN').length, 1);

  // Nothing is shared across users: bob's run of the same URL fetches his own origin.
  const bobs = await runImage(BOB, `${web.url}/tiny.img`);
  assert.equal(bobs.status, 201, bobs.message);
  const bobVm = bobs.vms[0] as InstanceInfo;
  const bobOrigin = (await volumesOf(BOB)).find((v) => v.type === 'MACHINE_IMAGE_ORIGIN') as VolumeInfo;
  assert.notEqual(bobOrigin.uuid, origin.uuid);
  assert.equal(bobOrigin.owner, 'bob');
  await kill(BOB, bobVm.id);

  // Alice's origin is hers: bob neither sees it nor runs it by its UUID; she does.
  assert.equal((await api(BOB, 'GET', `/pswd/disks/${origin.uuid}`)).status, 404);
  const stolen = await runImage(BOB, origin.uuid);
  assert.deepEqual([stolen.status, stolen.code, stolen.message], [404, 'VOLUME_NOT_FOUND', `no volume ${origin.uuid}`]);
  const byUuid = await runImage(ALICE, origin.uuid);
  assert.equal(byUuid.status, 201, byUuid.message);
  await kill(ALICE, (byUuid.vms[0] as InstanceInfo).id);
});

test('--qcow-disk-format: a qcow2 image at a URL becomes a qcow2 origin, and its instance boots it', async () => {
  const started = await runImage(ALICE, `${web.url}/tiny.qcow2`, { diskFormat: 'qcow2' });
  assert.equal(started.status, 201, started.message);
  const vm = started.vms[0] as InstanceInfo;
  assert.match(await consoleOf(ALICE, vm.id, /STRATUS URL QCOW2 BOOTED/), /STRATUS URL QCOW2 BOOTED/);
  const mine = await volumesOf(ALICE);
  const origin = mine.find((v) => v.uuid === mine.find((s) => s.uuid === vm.disk)?.origin) as VolumeInfo;
  assert.deepEqual([origin.format, origin.identifier, origin.bytes], ['qcow2', `url:qcow2:${imageFacts(qcow2).identifier}`, 1024 * 1024]);
  await kill(ALICE, vm.id);
});

test('a qcow2 Marketplace image run through the cloud boots: its origin stays qcow2 and its snapshot has backing format qcow2 (it was cached as raw, and the guest found no boot disk)', async (t) => {
  const signer = makeSigner(dir, 'Qcow Builder', 'qcow@example.org');
  const image = await qcow2Of(bannerDisk('STRATUS MARKETPLACE QCOW2 BOOTED'), dir, 'marketplace-image');
  const facts = imageFacts(image);
  web.serve('/market.qcow2', { body: image });
  const entry = draft({ identifier: facts.identifier, checksums: { 'SHA-1': facts.sha1 }, bytes: facts.bytes, format: 'qcow2', compression: 'none', locations: [`${web.url}/market.qcow2`] });
  const res = await fetch(`${server.url}/metadata`, { method: 'POST', body: signedXml(signer, entry), headers: { 'content-type': 'application/xml' } });
  assert.equal(res.status, 201, await res.text());

  const started = await runImage(ALICE, facts.identifier);
  assert.equal(started.status, 201, started.message);
  const vm = started.vms[0] as InstanceInfo;
  t.after(() => kill(ALICE, vm.id));
  assert.match(await consoleOf(ALICE, vm.id, /STRATUS MARKETPLACE QCOW2 BOOTED/), /STRATUS MARKETPLACE QCOW2 BOOTED/);
  const origin = (await volumesOf(ADMIN)).find((v) => v.identifier === facts.identifier) as VolumeInfo;
  assert.deepEqual([origin.owner, origin.format, origin.type], ['admin', 'qcow2', 'MACHINE_IMAGE_ORIGIN']);
  const info = JSON.parse((await runTool('qemu-img', ['info', '--output=json', '-U', join(dataDir, 'volumes', `${vm.disk ?? ''}.qcow2`)])).stdout) as Record<string, string>;
  assert.equal(info['backing-filename-format'], 'qcow2');
  assert.equal(info['backing-filename'], `${origin.uuid}.qcow2`);
});

test('a cached image stored in another format than its entry says (cached before origins kept formats, or uploaded as plain bytes) is refused with the volume to delete, not booted unreadable', async () => {
  const image = await qcow2Of(bannerDisk('NEVER BOOTED'), dir, 'uploaded-image');
  const facts = imageFacts(image);
  const up = await fetch(`${server.url}/pswd/disks/`, { method: 'POST', body: new Uint8Array(image), headers: { 'content-type': 'application/octet-stream', accept: 'application/json', authorization: basic(ADMIN) } });
  assert.equal(up.status, 201, await up.text());
  const volume = (await volumesOf(ADMIN)).find((v) => v.identifier === facts.identifier) as VolumeInfo;
  assert.equal(volume.format, 'raw');
  const signer = makeSigner(dir, 'Upload Builder', 'upload@example.org');
  const entry = draft({ identifier: facts.identifier, checksums: { 'SHA-1': facts.sha1 }, bytes: facts.bytes, format: 'qcow2', locations: [`${web.url}/never-fetched.qcow2`] });
  const res = await fetch(`${server.url}/metadata`, { method: 'POST', body: signedXml(signer, entry), headers: { 'content-type': 'application/xml' } });
  assert.equal(res.status, 201, await res.text());
  const refused = await runImage(ALICE, facts.identifier);
  assert.deepEqual([refused.status, refused.code, refused.message],
    [409, 'VOLUME_STATE', `the cached image of ${facts.identifier} (volume ${volume.uuid}) is stored as raw, but its entry says qcow2 (dcterms:format)`]);
  assert.equal((await api(ADMIN, 'DELETE', `/pswd/disks/${volume.uuid}`)).status, 200);
  await assertNoOrphans();
});

test('a Marketplace entry in a format other than raw and qcow2 is refused before anything is fetched', async () => {
  const signer = makeSigner(dir, 'Vmdk Builder', 'vmdk@example.org');
  const entry = draft({ format: 'vmdk', locations: [`${web.url}/never.vmdk`] });
  const res = await fetch(`${server.url}/metadata`, { method: 'POST', body: signedXml(signer, entry), headers: { 'content-type': 'application/xml' } });
  assert.equal(res.status, 201, await res.text());
  const refused = await runImage(ALICE, entry.identifier);
  assert.deepEqual([refused.status, refused.code, refused.message],
    [400, 'IMAGE_UNSAFE', `image ${entry.identifier} is in format vmdk (dcterms:format); only raw and qcow2 images run here`]);
  assert.ok(!web.requests.some((r) => r.path === '/never.vmdk'));
  await assertNoOrphans();
});

test('plain URLs that cannot run fail with exact messages and leave no volume, download or instance', async () => {
  const before = (await volumesOf(ALICE)).length;
  const missing = await runImage(ALICE, `${web.url}/absent.img`);
  assert.deepEqual([missing.status, missing.code, missing.message], [502, 'DOWNLOAD_FAILED', `cannot fetch ${web.url}/absent.img: HTTP 404 Not Found`]);

  const big = await runImage(ALICE, `${web.url}/big.img`);
  assert.deepEqual([big.status, big.code], [413, 'VOLUME_TOO_LARGE']);
  assert.match(big.message ?? '', new RegExp(`^cannot fetch ${web.url}/big\\.img: refused: the location gave more than the \\d+ bytes the download may take \\(from \\[instances\\] url_max_mib = 4\\)`));

  const blank = await runImage(ALICE, `${web.url}/blank.img`);
  assert.deepEqual([blank.status, blank.code], [400, 'IMAGE_NOT_READABLE']);
  assert.match(blank.message ?? '', /is not a bootable disk: it has no boot sector \(no 0x55AA signature at byte 510\)$/);

  const notQcow2 = await runImage(ALICE, `${web.url}/tiny.img`, { diskFormat: 'qcow2' });
  assert.deepEqual([notQcow2.status, notQcow2.code], [400, 'IMAGE_NOT_READABLE']);
  assert.match(notQcow2.message ?? '', /is not a qcow2 disk/);

  const ftp = await runImage(ALICE, 'ftp://127.0.0.1/tiny.img');
  assert.deepEqual([ftp.status, ftp.code, ftp.message], [403, 'URL_REFUSED', 'cannot run image \'ftp://127.0.0.1/tiny.img\': only http and https URLs are fetched, not ftp:']);

  const format = await runImage(ALICE, `${web.url}/tiny.img`, { diskFormat: 'vmdk' });
  assert.deepEqual([format.status, format.code], [400, 'USAGE']);

  assert.equal((await volumesOf(ALICE)).length, before, 'no volume was made');
  await assertNoOrphans();
});

test('stratus-run-instance with a plain URL: the HEAD check follows the redirect and the cloud runs the final URL, with a warning that nothing vouches for it; a URL that does not answer is refused before the cloud is asked', async () => {
  const cli = (args: string[]): ReturnType<typeof runCli> => runCli(args, {
    cwd: dir, home: dir, env: { STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: ALICE.username, STRATUSLAB_PASSWORD: ALICE.password },
  });
  writeFileSync(join(dir, 'key.pub'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1Ha0nqlT1O0qU4nS2ZxdKzVq0g1V0s9C9rjxs4yJ2c test\n');
  const started = ok(await cli(['run-instance', '-k', join(dir, 'key.pub'), '--ram', '64', `${web.url}/moved.img`]));
  assert.match(started.stdout, /:: Machine 1 \(vm ID: (\d+)\)\n\tPublic ip: \S+\n :: Done!\n$/);
  assert.ok(started.stderr.includes(`  [WARNING] ${web.url}/tiny.img is a plain URL: no signature or checksum vouches for the image it gives.`), started.stderr);
  const id = Number(/vm ID: (\d+)/.exec(started.stdout)?.[1]);
  assert.equal((await api<InstanceInfo>(ALICE, 'GET', `/instances/${id}`)).json.image, `${web.url}/tiny.img`);
  await kill(ALICE, id);

  const asked = web.requests.filter((r) => r.path === '/absent.img').length;
  const missing = await cli(['run-instance', '-k', join(dir, 'key.pub'), `${web.url}/absent.img`]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, new RegExp(`\\[ERROR\\] Image URL ${web.url}/absent.img does not answer: HTTP 404 Not Found`));
  assert.equal(web.requests.filter((r) => r.path === '/absent.img').length, asked + 1, 'only the HEAD request: the cloud was not asked');

  const unchecked = await cli(['run-instance', '-k', join(dir, 'key.pub'), '--no-check-image-url', `${web.url}/absent.img`]);
  assert.equal(unchecked.code, 1);
  assert.ok(unchecked.stderr.includes('  [WARNING] Image availability check is disabled.'), unchecked.stderr);
  assert.match(unchecked.stderr, new RegExp(`\\[ERROR\\] cannot fetch ${web.url}/absent.img: HTTP 404 Not Found`));
  await assertNoOrphans();
});
