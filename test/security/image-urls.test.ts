/**
 * Attacks through run-instance's image, against real `stratus serve` processes: a plain URL
 * makes the server fetch what a user names (SSRF), and an image's bytes are the attacker's
 * (a qcow2 can name any host file as its backing or data file). Each refusal is checked, and
 * that nothing was fetched, cached or left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startServerProcess } from '../helpers/server.js';
import type { ServerProcess } from '../helpers/server.js';
import { startFileServer } from '../helpers/file-server.js';
import { addAccount } from '../helpers/cloud.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { bannerDisk, hostileQcow2, imageFacts } from '../helpers/tiny-image.js';
import type { VolumeInfo } from '../../src/domain/volume.js';

const dir = tempDir('stratus-url-attacks-');
const ADMIN = { username: 'admin', password: 'admin-attack-pass' };
const MALLORY = { username: 'mallory', password: 'mallory-pass-1' };
const web = await startFileServer();
web.serve('/tiny.img', { body: bannerDisk('NEVER FETCHED') });

async function serverWith(name: string, cfg: string, args: string[] = []): Promise<ServerProcess> {
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'stratus.cfg'), cfg);
  const server = await startServerProcess(dataDir, args, { STRATUS_ADMIN_PASSWORD: ADMIN.password });
  await addAccount(server.url, ADMIN, MALLORY.username, MALLORY.password);
  return server;
}

/** The default server: no address is allowed beyond the rules. */
const closed = await serverWith('closed', '');
/** The test's web server (127.0.0.1) allowed, and 1 MiB the most a URL may give. */
const open = await serverWith('open', '[instances]\nurl_allow = 127.0.0.1\nurl_max_mib = 1\n');

const basic = (u: { username: string; password: string }): string => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;

async function runAs(server: ServerProcess, image: string, extra: Record<string, unknown> = {}): Promise<{ status: number; code?: string; message?: string }> {
  const res = await fetch(`${server.url}/instances`, {
    method: 'POST', body: JSON.stringify({ image, cpu: 1, ramMiB: 64, ...extra }),
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: basic(MALLORY) },
  });
  const body = await res.json() as Record<string, string>;
  return { status: res.status, code: body.code, message: body[String(res.status)] };
}

/** Nothing of the refused run is left on `server`: no volume, download, temporary file or instance. */
async function assertNothingLeft(server: ServerProcess): Promise<void> {
  const volumes = await fetch(`${server.url}/pswd/disks/`, { headers: { accept: 'application/json', authorization: basic(ADMIN) } });
  assert.deepEqual((await volumes.json() as VolumeInfo[]).map((v) => v.uuid), [], 'no volume, cached or the user\'s');
  const scratch = join(server.dataDir, 'volumes', '.cache');
  assert.deepEqual(existsSync(scratch) ? readdirSync(scratch) : [], [], 'no download in the scratch dir');
  assert.deepEqual(readdirSync(join(server.dataDir, 'volumes', '.tmp')), []);
  const instances = join(server.dataDir, 'instances');
  assert.deepEqual(existsSync(instances) ? readdirSync(instances) : [], []);
}

const refusal = (what: string): RegExp => new RegExp(`^${what.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `);

test('SSRF: URLs to the server\'s own loopback services, unspecified and link-local addresses, and this host\'s interfaces are refused before any connection, however they are spelt', async () => {
  const port = web.port;
  const own = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  const urls = [
    `http://127.0.0.1:${port}/tiny.img`, `http://127.1.2.3:${port}/tiny.img`, `http://[::1]:${port}/tiny.img`, `http://[::ffff:127.0.0.1]:${port}/tiny.img`,
    `http://2130706433:${port}/tiny.img`, `http://0.0.0.0:${port}/tiny.img`, 'http://169.254.169.254/latest/meta-data/', 'http://[fe80::1]/x',
    ...(own ? [`http://${own}:${port}/tiny.img`] : []),
  ];
  for (const url of urls) {
    const r = await runAs(closed, url);
    assert.deepEqual([r.status, r.code], [403, 'URL_REFUSED'], `${url}: ${r.message ?? ''}`);
    assert.match(r.message ?? '', refusal(new URL(url).href), url);
    assert.match(r.message ?? '', /refused unless the administrator allows it \(\[instances\] url_allow\)$/);
  }
  // A name is judged by the address it resolves to, when the connection is made.
  const named = await runAs(closed, `http://localhost:${port}/tiny.img`);
  assert.deepEqual([named.status, named.code], [403, 'URL_REFUSED']);
  assert.match(named.message ?? '', new RegExp(`^http://localhost:${port}/tiny\\.img: localhost is (127\\.0\\.0\\.1|::1), an address of this server`));
  assert.equal(web.requests.length, 0, 'the web server was never reached');
  await assertNothingLeft(closed);
});

test('SSRF: schemes other than http and https are refused (file:, ftp:, gopher:, data:)', async () => {
  for (const url of ['file:///etc/shadow', 'ftp://127.0.0.1/image.img', 'gopher://127.0.0.1:25/_HELO', 'data:application/octet-stream;base64,AAAA']) {
    const r = await runAs(closed, url);
    const scheme = url.slice(0, url.indexOf(':') + 1);
    assert.deepEqual([r.status, r.code, r.message], [403, 'URL_REFUSED', `cannot run image '${url}': only http and https URLs are fetched, not ${scheme}`]);
  }
  await assertNothingLeft(closed);
});

test('SSRF: a redirect is checked like the URL itself: an allowed server cannot send the fetch to another loopback address, link-local, or a file', async () => {
  web.redirect('/to-loopback', `http://127.0.0.2:${web.port}/tiny.img`);
  web.redirect('/to-metadata', 'http://169.254.169.254/latest/meta-data/iam');
  web.redirect('/to-file', 'file:///etc/shadow');
  web.redirect('/to-ipv6', `http://[::1]:${web.port}/tiny.img`);
  const cases: Array<[string, string]> = [
    ['/to-loopback', `http://127.0.0.2:${web.port}/tiny.img: an address of this server, link-local or multicast: refused unless the administrator allows it ([instances] url_allow)`],
    ['/to-metadata', 'http://169.254.169.254/latest/meta-data/iam: an address of this server, link-local or multicast: refused unless the administrator allows it ([instances] url_allow)'],
    ['/to-file', 'file:///etc/shadow: only http and https URLs are fetched, not file:'],
    ['/to-ipv6', `http://[::1]:${web.port}/tiny.img: an address of this server, link-local or multicast: refused unless the administrator allows it ([instances] url_allow)`],
  ];
  for (const [path, message] of cases) {
    const r = await runAs(open, `${web.url}${path}`);
    assert.deepEqual([r.status, r.code, r.message], [403, 'URL_REFUSED', message], path);
  }
  assert.ok(!web.requests.some((r) => r.path === '/tiny.img'), 'no hop reached the image');
  await assertNothingLeft(open);
});

test('size: a gzip bomb, an endless stream and an oversized announcement are all stopped at [instances] url_max_mib, and nothing is kept', async () => {
  // 64 MiB of zeros in ~64 KiB of gzip: inflated, it passes the 1 MiB limit at once.
  web.serve('/bomb.img.gz', { body: gzipSync(Buffer.alloc(64 * 1024 * 1024)) });
  web.serve('/endless.img', { body: Buffer.alloc(0), stream: async function* () { for (;;) yield Buffer.alloc(64 * 1024, 1); } });
  web.serve('/huge.img', { body: Buffer.alloc(0), stream: async function* () { yield Buffer.alloc(1024); }, length: 10 * 1024 * 1024 * 1024 });
  for (const path of ['/bomb.img.gz', '/endless.img', '/huge.img']) {
    const r = await runAs(open, `${web.url}${path}`);
    assert.deepEqual([r.status, r.code], [413, 'VOLUME_TOO_LARGE'], `${path}: ${r.message ?? ''}`);
    assert.match(r.message ?? '', /the download was stopped and nothing was kept/);
    assert.match(r.message ?? '', /\(from \[instances\] url_max_mib = 1\)/);
  }
  // The endless stream was read only a little past the limit (plus what sat in socket buffers).
  assert.ok(web.sentFor('/endless.img') < 16 * 1024 * 1024, `the server read ${web.sentFor('/endless.img')} bytes of the endless stream`);
  await assertNothingLeft(open);
});

test('a signed Marketplace entry whose qcow2 names /etc/shadow as its backing file (or external data file) is refused: nothing is cached, no instance, no orphan', async () => {
  const signer = makeSigner(dir, 'Mallory', 'mallory@example.org');
  for (const [name, hostile, what] of [
    ['backing', await hostileQcow2(dir, 'backing', { backing: '/etc/shadow' }), 'a backing file (/etc/shadow)'],
    ['datafile', await hostileQcow2(dir, 'datafile', { dataFile: '/etc/shadow' }), 'an external data file (/etc/shadow)'],
  ] as const) {
    const facts = imageFacts(hostile);
    web.serve(`/${name}.qcow2`, { body: hostile });
    const entry = draft({ identifier: facts.identifier, checksums: { 'SHA-1': facts.sha1 }, bytes: facts.bytes, format: 'qcow2', compression: 'none', locations: [`${web.url}/${name}.qcow2`] });
    const res = await fetch(`${open.url}/metadata`, { method: 'POST', body: signedXml(signer, entry), headers: { 'content-type': 'application/xml' } });
    assert.equal(res.status, 201, await res.text());
    const r = await runAs(open, facts.identifier);
    assert.deepEqual([r.status, r.code], [400, 'IMAGE_UNSAFE'], r.message);
    assert.match(r.message ?? '', new RegExp(`is a qcow2 with ${what.replace(/[()/]/g, '\\$&')}: refused, as QEMU would read that file of the server's host$`));
    assert.ok(web.requests.some((q) => q.path === `/${name}.qcow2`), 'it was fetched, then refused');

    // The same bytes as a plain URL, told it is qcow2.
    const plain = await runAs(open, `${web.url}/${name}.qcow2`, { diskFormat: 'qcow2' });
    assert.deepEqual([plain.status, plain.code], [400, 'IMAGE_UNSAFE'], plain.message);
  }
  await assertNothingLeft(open);
});

test('SSRF: the instance network (guests, which are other users\' machines, and the bridge) is refused', async () => {
  const tag = randomBytes(3).toString('hex');
  const bridged = await serverWith('bridged', `[network]\nmode = bridge\nbridge = stu${tag}\nproxy_port = 0\n`, ['--network', 'bridge']);
  const subnet = /Instances get addresses on bridge \S+ \((\d+\.\d+\.\d+)\.0\/24\)/.exec(bridged.log())?.[1];
  assert.ok(subnet, bridged.log());
  const guest = await runAs(bridged, `http://${subnet}.50:8080/image.img`);
  assert.deepEqual([guest.status, guest.code, guest.message],
    [403, 'URL_REFUSED', `http://${subnet}.50:8080/image.img: on the instance network (${subnet}.0/24): refused unless the administrator allows it ([instances] url_allow)`]);
  const host = await runAs(bridged, `http://${subnet}.1:3142/`);
  assert.deepEqual([host.status, host.code], [403, 'URL_REFUSED']);
  await assertNothingLeft(bridged);
  await bridged.stop();
});
