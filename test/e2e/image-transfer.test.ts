import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli.js';
import { cliPath } from '../helpers/paths.js';
import { startServerProcess } from '../helpers/server.js';
import { startFileServer } from '../helpers/file-server.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import type { TestSigner } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import { MarketplaceClient } from '../../src/client/marketplace-client.js';
import type { EntryListing } from '../../src/domain/wire.js';

const MiB = 1024 * 1024;
const work = tempDir('stratus-transfer-');
const ADMIN = 'Basic ' + Buffer.from('admin:adminpass1').toString('base64');

/** Random data with a long run of zeros in the middle, like a real disk image. */
function makeImage(randomMiB: number, zeroMiB: number): Buffer {
  const half = Math.floor(randomMiB * MiB / 2);
  return Buffer.concat([randomBytes(half), Buffer.alloc(zeroMiB * MiB), randomBytes(randomMiB * MiB - half + 123)]);
}

function idOf(content: Buffer): { id: string; sha1: string } {
  const sha1 = createHash('sha1').update(content).digest('hex');
  return { id: identifierFromSha1(sha1), sha1 };
}

/** Files left in a directory, to show that nothing (output, .part, temp) was left behind. */
function leftovers(dir: string): string[] {
  return readdirSync(dir).sort();
}

async function waitFor(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A copy with one byte inverted. */
function flipped(b: Buffer, at: number): Buffer {
  const copy = Buffer.from(b);
  copy.writeUInt8(copy.readUInt8(at) ^ 0xff, at);
  return copy;
}

function size(path: string): number {
  return existsSync(path) ? statSync(path).size : -1;
}

test('upload-image and download-image against a real server', async (t) => {
  const server = await startServerProcess(join(work, 'data'), [], { STRATUS_ADMIN_PASSWORD: 'adminpass1' });
  const port = new URL(server.url).port;
  mkdirSync(join(work, '.stratuslab'));
  writeFileSync(join(work, '.stratuslab', 'stratuslab-user.cfg'),
    `[default]\nmarketplace_endpoint = ${server.url}\nusername = admin\npassword = adminpass1\np12_certificate = ${join(work, 'builder.p12')}\np12_password = secret\n`);
  const cli = (args: string[]) => runCli(args, { cwd: work, home: work });
  const volumes = async (): Promise<Array<{ uuid: string; identifier: string }>> =>
    (await fetch(`${server.url}/pswd/disks/`, { headers: { authorization: ADMIN } })).json() as Promise<Array<{ uuid: string; identifier: string }>>;

  const name = 'ttylinux-16.1-x86_64-base-1.0';
  const image = makeImage(3, 2);
  const { id } = idOf(image);
  const upDir = join(work, 'up');
  const refDir = join(work, 'ref');
  mkdirSync(upDir);
  mkdirSync(refDir);
  writeFileSync(join(refDir, `${name}.img`), image);
  const gz = gzipSync(image);
  writeFileSync(join(upDir, `${name}.img.gz`), gz);
  let uuid = '';
  let mirror: TestSigner;

  await t.test('setup: a signing certificate from stratus-generate-p12', async () => {
    const r = await cli(['generate-p12', '-n', 'hudson builder', '-e', 'hudson.builder@example.org', '-o', 'builder.p12', '-p', 'secret']);
    assert.equal(r.code, 0, r.stderr);
    mirror = makeSigner(work, 'Mirror Tester', 'mirror@example.org');
  });

  await t.test('upload-image of a gzipped image: volume, built and signed metadata with its pdisk: location', async () => {
    const r = await cli(['upload-image', '--public', '-t', 'ttylinux', '--machine-image-origin', join(upDir, `${name}.img.gz`)]);
    assert.equal(r.code, 0, r.stderr);
    const steps = [...r.stdout.matchAll(/^ :: (.*?)(?: ::)?$/gm)].map((m) => m[1]);
    assert.deepEqual(steps, ['Starting image upload', 'Compressing image', 'Uploading image',
      'Starting manifest upload', 'Parsing manifest', 'Updating manifest', 'Signing manifest', 'Uploading manifest']);
    const uploaded = new RegExp(`^Image uploaded: ${server.url}/pswd/disks/([0-9a-f-]{36})$`, 'm').exec(r.stdout);
    assert.ok(uploaded, r.stdout);
    uuid = uploaded[1] as string;
    assert.match(r.stdout, /^Image metadata updated: \{"tag":"ttylinux","visibility":"PUBLIC","type":"MACHINE_IMAGE_ORIGIN"\}$/m);
    assert.match(r.stdout, new RegExp(`Metadata file .*${name}\\.xml not found: built it from the image`));
    assert.match(r.stdout, new RegExp(`^Manifest uploaded: ${server.url}/metadata/${id}/hudson\\.builder@example\\.org/\\d{4}-`, 'm'));

    // The identifier the server computed is the one stratus-build-metadata gives the plain file.
    const built = await runCli(['build-metadata', '-o', 'ref.xml', `${name}.img`], { cwd: refDir, home: work });
    assert.equal(built.code, 0, built.stderr);
    assert.ok(readFileSync(join(refDir, 'ref.xml'), 'utf8').includes(`<dcterms:identifier>${id}</dcterms:identifier>`));
    const volume = await (await fetch(`${server.url}/pswd/disks/${uuid}`, { headers: { authorization: ADMIN } })).json() as Record<string, unknown>;
    assert.equal(volume.identifier, id);
    assert.equal(volume.bytes, image.length);

    const listing = await (await fetch(`${server.url}/metadata?location=pdisk&media=json`)).json() as EntryListing;
    const entry = listing.entries.find((e) => e.identifier === id);
    assert.ok(entry, JSON.stringify(listing.entries));
    assert.deepEqual(entry.locations, [`pdisk:127.0.0.1:${port}:${uuid}`]);
    assert.equal(entry.email, 'hudson.builder@example.org');
    assert.deepEqual([entry.os, entry.osVersion, entry.osArch, entry.type, entry.version], ['ttylinux', '16.1', 'x86_64', 'base', '1.0']);
    assert.ok(existsSync(join(upDir, `${name}.xml`)), 'the built metadata is kept where build-metadata would write it');
  });

  await t.test('download-image <ID> gives back the same bytes and leaves nothing else', async () => {
    const dir = join(work, 'dl-a');
    mkdirSync(dir);
    const r = await cli(['download-image', '-o', join(dir, 'a.img'), id]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Signed by: .*CN=hudson builder.* <hudson\.builder@example\.org>/);
    assert.match(r.stdout, new RegExp(`Image downloaded: ${join(dir, 'a.img')}`));
    assert.ok(readFileSync(join(dir, 'a.img')).equals(image));
    assert.deepEqual(leftovers(dir), ['a.img']);
  });

  await t.test('a plain image is gzipped next to itself with -C gz (the default); a repeated upload reuses the volume', async () => {
    const dir = join(work, 'plain');
    mkdirSync(dir);
    copyFileSync(join(refDir, `${name}.img`), join(dir, `${name}.img`));
    const before = (await volumes()).length;
    const r = await cli(['upload-image', join(dir, `${name}.img`)]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(join(dir, `${name}.img.gz`)).length > 0);
    assert.match(r.stderr, /\[WARNING\] Disk already registered: volume .* holds this image; using it/);
    assert.match(r.stdout, new RegExp(`Image uploaded: ${server.url}/pswd/disks/${uuid}`));
    assert.match(r.stdout, /Manifest uploaded: /);
    assert.equal((await volumes()).length, before);
    assert.deepEqual(leftovers(dir), [`${name}.img`, `${name}.img.gz`, `${name}.xml`], 'no temporary .gz left');
  });

  await t.test('errors: -C bz2, a wrong password, the wrong metadata file, an unknown ID', async () => {
    const bz2 = await cli(['upload-image', '-C', 'bz2', join(upDir, `${name}.img.gz`)]);
    assert.equal(bz2.code, 1);
    assert.match(bz2.stderr, /\[ERROR\] -C bz2: the disk service takes gzip \(or uncompressed\) images only/);

    const before = (await volumes()).length;
    const other = makeImage(1, 1);
    const otherDir = join(work, 'other');
    mkdirSync(otherDir);
    writeFileSync(join(otherDir, 'other.img'), other);
    const badPassword = await cli(['upload-image', '-p', 'wrong', join(otherDir, 'other.img')]);
    assert.equal(badPassword.code, 1);
    assert.match(badPassword.stderr, /\[ERROR\] invalid credentials/);
    assert.doesNotMatch(badPassword.stdout, /Uploading image/, 'refused before sending the image');

    // other.xml describes the ttylinux image, not other.img.
    copyFileSync(join(upDir, `${name}.xml`), join(otherDir, 'other.xml'));
    const wrongXml = await cli(['upload-image', join(otherDir, 'other.img')]);
    assert.equal(wrongXml.code, 1);
    assert.match(wrongXml.stderr, new RegExp(`\\[ERROR\\] .*other\\.xml describes image ${id}, but the uploaded image is ${idOf(other).id}`));
    assert.match(wrongXml.stderr, /was deleted again/);
    assert.equal((await volumes()).length, before, 'no volume left by the failed runs');

    const dir = join(work, 'dl-errors');
    mkdirSync(dir);
    const wrongDl = await cli(['download-image', '-p', 'wrong', '-o', join(dir, 'x.img'), id]);
    assert.equal(wrongDl.code, 1);
    assert.match(wrongDl.stderr, /\[ERROR\] no location of .* gave the image:\n {4}pdisk:.*: invalid credentials/);
    const unknown = await cli(['download-image', '-o', join(dir, 'x.img'), identifierFromSha1('1'.repeat(40))]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /\[ERROR\] no metadata entry found for /);
    const invalid = await cli(['download-image', '-o', join(dir, 'x.img'), 'not-an-id']);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /\[ERROR\] invalid identifier/);
    assert.deepEqual(leftovers(dir), []);
  });

  const web = await startFileServer();
  /** Signs an entry for `content` with the given locations and uploads it; returns its URL. */
  const publish = async (content: Buffer, locations: string[]): Promise<string> => {
    const { id: cid, sha1 } = idOf(content);
    const xml = signedXml(mirror, draft({ identifier: cid, bytes: content.length, checksums: { 'SHA-1': sha1 }, locations }));
    return (await new MarketplaceClient(server.url).upload(xml)).url;
  };

  await t.test('a location serving corrupted bytes is refused with a checksum error; the next good one is used', async () => {
    const content = makeImage(1, 1);
    const good = gzipSync(content);
    web.serve('/c/bad.img.gz', { body: flipped(good, Math.floor(good.length / 2)) });
    // bzip2 without a telling suffix: the magic bytes decide.
    web.serve('/c/image', { body: execFileSync('bzip2', ['-c'], { input: content, maxBuffer: 64 * MiB }) });
    await publish(content, [`${web.url}/c/bad.img.gz`, `${web.url}/c/image`]);
    const dir = join(work, 'dl-c');
    mkdirSync(dir);
    const r = await cli(['download-image', '-o', join(dir, 'c.img'), idOf(content).id]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^  \\[WARNING\\] ${web.url}/c/bad\\.img\\.gz: checksum mismatch`, 'm'));
    assert.ok(readFileSync(join(dir, 'c.img')).equals(content));
    assert.deepEqual(leftovers(dir), ['c.img']);
  });

  await t.test('when every location is corrupt the download fails and leaves no file, .part or temp', async () => {
    const content = makeImage(1, 1);
    const gzipped = gzipSync(content);
    const bad = flipped(gzipped, Math.floor(gzipped.length / 2));
    const changed = flipped(content, 10);
    web.serve('/d/bad.img.gz', { body: bad });
    web.serve('/d/other.img.gz', { body: gzipSync(changed) }); // valid gzip, different content
    web.serve('/d/plain.img', { body: changed }); // uncompressed, different content
    await publish(content, [`${web.url}/d/bad.img.gz`, `${web.url}/d/other.img.gz`, `${web.url}/d/plain.img`]);
    const dir = join(work, 'dl-d');
    mkdirSync(dir);
    const r = await cli(['download-image', '-o', join(dir, 'd.img'), idOf(content).id]);
    assert.equal(r.code, 1);
    for (const p of ['bad.img.gz', 'other.img.gz', 'plain.img']) {
      assert.match(r.stderr, new RegExp(`^  \\[WARNING\\] ${web.url}/d/${p.replace(/\./g, '\\.')}: checksum mismatch`, 'm'));
    }
    assert.match(r.stderr, new RegExp(`checksum mismatch: expected SHA-1 ${idOf(content).sha1} and ${content.length} bytes, got ${idOf(changed).sha1}`));
    assert.match(r.stderr, /\[ERROR\] no location of .* gave the image:\n {4}http/);
    assert.deepEqual(leftovers(dir), []);
  });

  /** Starts a download, waits until .part holds `half` bytes, and kills it. */
  const interrupted = async (target: string, output: string, half: number): Promise<void> => {
    const child = spawn(process.execPath, [cliPath, 'download-image', '-o', output, target], {
      cwd: work, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work }, stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await waitFor(`${output}.part to reach ${half} bytes`, () => size(`${output}.part`) === half);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  };

  /** An image served by the web server, stalling halfway on the first request, with its entry published. */
  const stalling = async (path: string, etag: string): Promise<{ content: Buffer; body: Buffer; half: number; dir: string; output: string }> => {
    const content = makeImage(3, 1);
    const body = gzipSync(content);
    const half = Math.floor(body.length / 2);
    web.serve(path, { body, etag, stallAfter: half });
    await publish(content, [`${web.url}${path}`]);
    const dir = join(work, `dl${path.replace(/\W/g, '-')}`);
    mkdirSync(dir);
    const output = join(dir, 'e.img');
    await interrupted(idOf(content).id, output, half);
    return { content, body, half, dir, output };
  };

  await t.test('a download killed halfway resumes with a Range request and gives the same bytes (web location)', async () => {
    const { content, half, dir, output } = await stalling('/e/slow.img.gz', '"e-v1"');
    const state = JSON.parse(readFileSync(`${output}.part.json`, 'utf8')) as Record<string, unknown>;
    assert.equal(state.location, `${web.url}/e/slow.img.gz`);
    assert.equal(state.etag, '"e-v1"');

    const r = await cli(['download-image', '-o', output, idOf(content).id]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Resuming ${web.url}/e/slow\\.img\\.gz at byte ${half}`));
    assert.deepEqual(web.requests.filter((q) => q.path === '/e/slow.img.gz'), [
      { path: '/e/slow.img.gz', status: 200 },
      { path: '/e/slow.img.gz', range: `bytes=${half}-`, ifRange: '"e-v1"', status: 206 },
    ]);
    assert.ok(readFileSync(output).equals(content));
    assert.deepEqual(leftovers(dir), ['e.img']);
  });

  await t.test('when the file changed (If-Range fails, the server answers 200) the download starts over', async () => {
    const { content, body, half, dir, output } = await stalling('/f/slow.img.gz', '"f-v1"');
    web.serve('/f/slow.img.gz', { body, etag: '"f-v2"' });
    const r = await cli(['download-image', '-o', output, idOf(content).id]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /did not resume .*; starting over/);
    assert.deepEqual(web.requests.filter((q) => q.path === '/f/slow.img.gz').at(-1),
      { path: '/f/slow.img.gz', range: `bytes=${half}-`, ifRange: '"f-v1"', status: 200 });
    assert.ok(readFileSync(output).equals(content));
    assert.deepEqual(leftovers(dir), ['e.img']);
  });

  await t.test('a resume that does not verify (the file changed behind a server without ETags) is done again from the start', async () => {
    const content = makeImage(3, 1);
    const body = gzipSync(content);
    const half = Math.floor(body.length / 2);
    web.serve('/g/slow.img.gz', { body: gzipSync(flipped(content, 1000)), stallAfter: half });
    await publish(content, [`${web.url}/g/slow.img.gz`]);
    const dir = join(work, 'dl-g');
    mkdirSync(dir);
    const output = join(dir, 'g.img');
    await interrupted(idOf(content).id, output, half);
    web.serve('/g/slow.img.gz', { body });
    const r = await cli(['download-image', '-o', output, idOf(content).id]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /did not verify; downloading it again from the start/);
    assert.deepEqual(web.requests.filter((q) => q.path === '/g/slow.img.gz').map((q) => [q.range, q.status]),
      [[undefined, 200], [`bytes=${half}-`, 206], [undefined, 200]]);
    assert.ok(readFileSync(output).equals(content));
    assert.deepEqual(leftovers(dir), ['g.img']);
  });

  await t.test('a connection dropped halfway is resumed within the same run', async () => {
    const content = makeImage(3, 1);
    const body = gzipSync(content);
    const half = Math.floor(body.length / 2);
    web.serve('/h/drop.img.gz', { body, etag: '"h-v1"', dropAfter: half });
    await publish(content, [`${web.url}/h/drop.img.gz`]);
    const dir = join(work, 'dl-h');
    mkdirSync(dir);
    const r = await cli(['download-image', '-o', join(dir, 'h.img'), idOf(content).id]);
    assert.equal(r.code, 0, r.stderr);
    // Node drops what it had buffered when the connection breaks, so the resume point is at most half.
    const lost = new RegExp(`\\[WARNING\\] ${web.url}/h/drop\\.img\\.gz: connection lost after (\\d+) bytes: .*; resuming`).exec(r.stderr);
    assert.ok(lost, r.stderr);
    assert.ok(Number(lost[1]) > 0 && Number(lost[1]) <= half);
    assert.deepEqual(web.requests.filter((q) => q.path === '/h/drop.img.gz').map((q) => [q.range, q.status]),
      [[undefined, 200], [`bytes=${lost[1]}-`, 206]]);
    assert.ok(readFileSync(join(dir, 'h.img')).equals(content));
    assert.deepEqual(leftovers(dir), ['h.img']);
  });

  await t.test('the same through a pdisk: location (a stalling hop in front of the disk service)', async () => {
    const hop = await startFileServer();
    hop.proxy('/pswd/', server.url, { stallAfter: Math.floor(gz.length / 2) });
    const entryUrl = await publish(image, [`pdisk:127.0.0.1:${hop.port}:${uuid}`]);
    const dir = join(work, 'dl-p');
    mkdirSync(dir);
    const output = join(dir, 'p.img');
    const half = Math.floor(gz.length / 2);
    await interrupted(entryUrl, output, half);

    const r = await cli(['download-image', '-o', output, entryUrl]);
    assert.equal(r.code, 0, r.stderr);
    const seen = hop.requests.filter((q) => q.path === `/pswd/disks/${uuid}`);
    assert.equal(seen.length, 2);
    assert.equal(seen[0]?.range, undefined);
    assert.deepEqual(seen[1], { path: `/pswd/disks/${uuid}`, range: `bytes=${half}-`, ifRange: `"${uuid}-${gz.length}"`, status: 206 });
    assert.ok(readFileSync(output).equals(image));
    assert.deepEqual(leftovers(dir), ['p.img']);
  });
});
