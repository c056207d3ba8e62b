/**
 * stratus-download-image against a real server and a real web server: a byte budget from the
 * entry's slreq:bytes stops locations that serve more (gzip and bzip2 bombs, an endless stream
 * of empty gzip members, an announced length past the budget) without leaving a file, .part or
 * temp; and a PUBLIC pdisk volume downloads with no account at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MarketplaceClient } from '../../src/client/marketplace-client.js';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import { pdiskLocation } from '../../src/domain/volume.js';
import { pseudoRandom } from '../conformance/volume-driver.js';
import { GIB, bzip2Bomb, emptyGzipMembers, gzipBomb } from '../helpers/bombs.js';
import { runCli } from '../helpers/cli.js';
import { startFileServer } from '../helpers/file-server.js';
import { streamOf } from '../helpers/pdisk.js';
import { startServerProcess } from '../helpers/server.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

const MIB = 1024 * 1024;
const work = tempDir('stratus-download-limits-');
const home = join(work, 'home'); // no configuration: no account, no endpoint
mkdirSync(home);
const ADMIN = { username: 'admin', password: 'admin-download-limits' };
const ALICE = { username: 'alice', password: 'alice-password-1' };
const server = await startServerProcess(join(work, 'data'), [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
await new PdiskClient(server.url, ADMIN).addUser({ ...ALICE });
const web = await startFileServer();
const signer = makeSigner(work, 'Limits Tester', 'limits@example.org');
let seed = 0;

function idOf(content: Buffer): { id: string; sha1: string } {
  const sha1 = createHash('sha1').update(content).digest('hex');
  return { id: identifierFromSha1(sha1), sha1 };
}

/** Signs and uploads an entry for `content` at `locations`; returns its identifier. */
async function publish(content: Buffer, locations: string[]): Promise<string> {
  const { id, sha1 } = idOf(content);
  await new MarketplaceClient(server.url).upload(signedXml(signer, draft({ identifier: id, bytes: content.length, checksums: { 'SHA-1': sha1 }, locations })));
  return id;
}

/** download-image with no account and no configuration, into a fresh directory. */
async function download(id: string): Promise<{ code: number; stdout: string; stderr: string; dir: string; output: string; ms: number }> {
  const dir = join(work, `dl-${seed++}`);
  mkdirSync(dir);
  const output = join(dir, 'image.img');
  const t0 = performance.now();
  const r = await runCli(['download-image', '--marketplace-endpoint', server.url, '-o', output, id], { cwd: dir, home });
  return { ...r, dir, output, ms: performance.now() - t0 };
}

test('download-image with no account: a PUBLIC pdisk volume downloads; a private one is refused with a pointer to credentials', async () => {
  const alice = new PdiskClient(server.url, ALICE);
  const content = pseudoRandom(3 * MIB, 100);
  const gz = gzipSync(content);
  const pub = await alice.upload(streamOf(gz), { gzipped: true, size: gz.length, visibility: 'public' });
  const id = await publish(content, [pdiskLocation(server.url, pub.uuid)]);
  const ok = await download(id);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Image downloaded: /);
  assert.ok(readFileSync(ok.output).equals(content));
  assert.deepEqual(readdirSync(ok.dir), ['image.img']);

  const secret = pseudoRandom(MIB, 101);
  const secretGz = gzipSync(secret);
  const priv = await alice.upload(streamOf(secretGz), { gzipped: true, size: secretGz.length });
  const refused = await download(await publish(secret, [pdiskLocation(server.url, priv.uuid)]));
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`\\[WARNING\\] pdisk:.*:${priv.uuid}: no volume ${priv.uuid} \\(Only PUBLIC volumes can be read without an account; give the owner's username and password for a private one\\.\\)`));
  assert.match(refused.stderr, /\[ERROR\] no location of .* gave the image/);
  assert.deepEqual(readdirSync(refused.dir), []);
});

test('a location serving more than slreq:bytes allows is stopped early and leaves nothing: gzip and bzip2 bombs, empty gzip members, an announced length', async (t) => {
  const gz = await gzipBomb(100 * GIB);
  const bz = await bzip2Bomb(100 * GIB);
  const flood = emptyGzipMembers(GIB);
  web.serve('/bomb.img.gz', { body: Buffer.alloc(0), stream: () => gz.chunks() });
  web.serve('/bomb.img.bz2', { body: Buffer.alloc(0), stream: () => bz.chunks() });
  web.serve('/flood.img.gz', { body: Buffer.alloc(0), stream: () => flood.chunks() });
  web.serve('/huge.img', { body: Buffer.alloc(0), stream: () => emptyGzipMembers(10 * GIB).chunks(), length: 10 * GIB });
  const cases: Array<[string, RegExp, number]> = [
    ['/bomb.img.gz', /the decompressed image may take/, 24 * MIB],
    ['/bomb.img.bz2', /the decompressed image may take/, bz.size],
    ['/flood.img.gz', /the download may take/, 24 * MIB],
    ['/huge.img', /the download may take .*\(it announced 10737418240 bytes\)/, 24 * MIB],
  ];
  for (const [path, why, served] of cases) {
    const content = pseudoRandom(MIB, 200 + seed);
    const r = await download(await publish(content, [`${web.url}${path}`]));
    assert.equal(r.code, 1, `${path}: ${r.stdout}`);
    const warning = new RegExp(`\\[WARNING\\] ${web.url}${path.replace(/\./g, '\\.')}: refused: the location gave more than the \\d+ bytes `);
    assert.match(r.stderr, warning, path);
    assert.match(r.stderr, why, path);
    assert.match(r.stderr, /the download was stopped and nothing was kept/, path);
    assert.deepEqual(readdirSync(r.dir), [], `${path}: no output, .part or temp file left`);
    assert.ok(web.sentFor(path) <= served, `${path}: ${(web.sentFor(path) / MIB).toFixed(1)} MiB were served before the client stopped`);
    assert.ok(r.ms < 60_000, `${path}: took ${r.ms.toFixed(0)} ms`);
    t.diagnostic(`${path}: refused in ${r.ms.toFixed(0)} ms after ${(web.sentFor(path) / MIB).toFixed(1)} MiB served`);
  }

  // The budget stops a bad location, and the next one is tried.
  const content = pseudoRandom(2 * MIB, 300);
  web.serve('/good.img.gz', { body: gzipSync(content) });
  const r = await download(await publish(content, [`${web.url}/bomb.img.gz`, `${web.url}/flood.img.gz`, `${web.url}/good.img.gz`]));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/\[WARNING\] .*: refused: the location gave more than/g)?.length, 2, r.stderr);
  assert.ok(readFileSync(r.output).equals(content));
  assert.deepEqual(readdirSync(r.dir), ['image.img']);
});
