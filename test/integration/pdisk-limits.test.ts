/**
 * Limits before bytes land, against a real `stratus serve`: uploads are counted against
 * max_volume_gib and the owner's GiB quota while they stream, and stopped at the chunk that
 * passes either; decompression bombs (gzip, bzip2) and endless streams of empty gzip members
 * are refused early; nothing is left behind, the server keeps serving, and other users'
 * uploads go on unaffected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import type { Credentials } from '../../src/client/pdisk-client.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import { isStratusError } from '../../src/domain/errors.js';
import { loadServerSettings } from '../../src/main/server.js';
import { pseudoRandom } from '../conformance/volume-driver.js';
import { GIB, bzip2Bomb, emptyGzipMembers, gzipBomb } from '../helpers/bombs.js';
import { assertConsistent, assertError, basic, call, eventually, sha1, streamOf, tmpEmpty } from '../helpers/pdisk.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const MIB = 1024 * 1024;
const ADMIN: Credentials = { username: 'admin', password: 'admin-limits-password' };
const ALICE: Credentials = { username: 'alice', password: 'alice-password-1' };
const BOB: Credentials = { username: 'bob', password: 'bob-password-22' };
const CAROL: Credentials = { username: 'carol', password: 'carol-password-3' };

const dataDir = tempDir('stratus-pdisk-limits-');
const volumesDir = join(dataDir, 'volumes');
writeFileSync(join(dataDir, 'stratus.cfg'), '[pdisk]\nmax_volume_gib = 2\n');
const server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
const admin = new PdiskClient(server.url, ADMIN);
for (const u of [ALICE, BOB, CAROL]) await admin.addUser({ ...u });

interface Sent {
  status: number;
  code: string | null;
  message: string;
  /** Body bytes the client managed to send before the answer stopped it. */
  sent: number;
  ms: number;
}

/**
 * POSTs a streamed body as a well-behaved client does (PdiskClient, curl): it reads the answer
 * while sending, and stops sending when an error answer comes. Like them it keeps the
 * connection alive: a client that asks for `Connection: close` (Node's agent: false) has the
 * connection closed right after the answer, and under load its next write could meet the reset
 * before it had read the answer (regression: the bzip2 test failed with EPIPE).
 */
function streamUpload(who: Credentials, chunks: AsyncIterable<Buffer>, contentType = 'application/gzip'): Promise<Sent> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let sent = 0;
    const body = Readable.from(chunks, { objectMode: false });
    body.on('data', (c: Buffer) => { sent += c.length; });
    const req = httpRequest(`${server.url}/pswd/disks/`, {
      method: 'POST', agent: new Agent({ keepAlive: true, maxSockets: 1 }),
      headers: { authorization: basic(who), 'content-type': contentType, accept: 'application/json' },
    }, (res) => {
      if ((res.statusCode ?? 0) >= 400) {
        body.unpipe(req);
        body.destroy();
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        req.destroy();
        const json = JSON.parse(text) as Record<string, string>;
        resolve({ status: res.statusCode ?? 0, code: (res.headers['x-stratus-error'] as string | undefined) ?? null, message: json[String(res.statusCode)] ?? '', sent, ms: performance.now() - t0 });
      });
    });
    req.on('error', reject);
    body.pipe(req);
  });
}

/** Uploads `content` (gzipped) as `who` and checks the volume it makes. */
async function uploadOk(who: Credentials, content: Buffer): Promise<string> {
  const gz = gzipSync(content, { level: 1 });
  const v = await new PdiskClient(server.url, who).upload(streamOf(gz), { gzipped: true, size: gz.length });
  assert.equal(v.identifier, identifierFromSha1(sha1(content)));
  assert.equal(v.bytes, content.length);
  return v.uuid;
}

test('a gzip bomb (100 GiB of zeros) is refused with 413 as soon as it passes max_volume_gib; nothing is kept; another user uploads meanwhile', async () => {
  const bomb = await gzipBomb(100 * GIB);
  assert.ok(bomb.size > 90 * MIB && bomb.size < 110 * MIB, `bomb of ${bomb.size} bytes`);
  const theirs = pseudoRandom(16 * MIB, 7);
  const [refused, carols] = await Promise.all([streamUpload(ALICE, bomb.chunks()), uploadOk(CAROL, theirs)]);
  assert.equal(refused.status, 413, refused.message);
  assert.equal(refused.code, 'VOLUME_TOO_LARGE');
  assert.match(refused.message, /^the image is larger than this server's limit of 2 GiB per volume \(max_volume_gib\): the upload was stopped after \d+ bytes and nothing was kept$/);
  const stoppedAt = Number(/after (\d+) bytes/.exec(refused.message)?.[1]);
  assert.ok(stoppedAt > 2 * GIB && stoppedAt <= 2 * GIB + 4 * MIB, `stopped at ${stoppedAt} bytes of content, just past the 2 GiB limit`);
  // 2 GiB of zeros is about 2 MiB of the bomb's 100 MiB. What the client sent before it read
  // the answer also counts the socket buffers and what the server dropped while it answered.
  assert.ok(refused.sent < 40 * MIB, `the client sent ${(refused.sent / MIB).toFixed(1)} MiB of ${(bomb.size / MIB).toFixed(0)} MiB before the answer`);
  assert.ok(refused.ms < 60_000, `refused after ${refused.ms.toFixed(0)} ms`);

  await eventually('the refused upload is removed', () => tmpEmpty(volumesDir));
  const rows = await assertConsistent(admin, volumesDir, 'after a gzip bomb');
  assert.deepEqual(rows.map((r) => r.uuid), [carols], "only carol's volume exists");
  assert.ok(server.child.exitCode === null, 'the server is still running');
  // The server keeps serving the bomb's sender too.
  const after = await uploadOk(ALICE, pseudoRandom(MIB, 8));
  await admin.delete(after);
  await admin.delete(carols);
});

test('a bzip2 bomb is not inflated: as gzip it is refused on its first bytes, as raw it is stored as the few bytes it is', async () => {
  const bomb = await bzip2Bomb(100 * GIB);
  assert.ok(bomb.size < MIB, `bzip2 bomb of ${bomb.size} bytes`);
  const asGzip = await streamUpload(ALICE, bomb.chunks());
  assert.equal(asGzip.status, 400);
  assert.equal(asGzip.code, 'UPLOAD_INCOMPLETE');
  assert.match(asGzip.message, /not a complete gzip stream \(incorrect header check/);
  await eventually('the refused upload is removed', () => tmpEmpty(volumesDir));
  assert.deepEqual(await assertConsistent(admin, volumesDir, 'after a bzip2 bomb sent as gzip'), []);

  const asRaw = await streamUpload(ALICE, bomb.chunks(), 'application/octet-stream');
  assert.equal(asRaw.status, 201);
  const [volume] = await admin.list();
  assert.equal(volume?.bytes, bomb.size, 'raw bytes are stored as sent, never decompressed');
  await admin.delete(volume?.uuid as string);
  await assertConsistent(admin, volumesDir, 'after the bzip2 bomb test');
});

test('an upload that passes the GiB quota halfway is refused with 507 at the quota; nothing is kept; within it, uploads work', async () => {
  const b = new PdiskClient(server.url, BOB);
  await admin.setQuota('bob', { gib: 2 });
  const empty = await b.create({ size: 1 }); // 1 GiB of 2 used
  // 1.5 GiB of zeros: the quota leaves 1 GiB, so it is stopped halfway, when it passes 1 GiB.
  const bomb = await gzipBomb(1.5 * GIB, 256 * MIB);
  const refused = await streamUpload(BOB, bomb.chunks());
  assert.equal(refused.status, 507, refused.message);
  assert.equal(refused.code, 'QUOTA_EXCEEDED');
  assert.match(refused.message, /^quota exceeded: bob uses 1 GiB of a 2 GiB quota; this upload needs 2 GiB \(stopped after \d+ bytes; nothing was kept\)$/);
  const stoppedAt = Number(/after (\d+) bytes/.exec(refused.message)?.[1]);
  assert.ok(stoppedAt > GIB && stoppedAt <= GIB + 4 * MIB, `stopped at ${stoppedAt}, just past the 1 GiB left`);
  await eventually('the refused upload is removed', () => tmpEmpty(volumesDir));
  assert.deepEqual((await assertConsistent(admin, volumesDir, 'after a quota refusal halfway')).map((v) => v.uuid), [empty.uuid]);

  // What fits the quota is accepted, and then nothing more is.
  const fits = await uploadOk(BOB, pseudoRandom(2 * MIB, 9));
  const full = await streamUpload(BOB, (async function* () { yield gzipSync(pseudoRandom(MIB, 10)); })());
  assert.equal(full.status, 507);
  assert.equal(full.message, 'quota exceeded: bob uses 2 GiB of a 2 GiB quota; this upload needs 1 GiB');
  await b.delete(fits);
  await b.delete(empty.uuid);
  await admin.setQuota('bob', { gib: null });
  await assertConsistent(admin, volumesDir, 'after the quota test');
});

test('an endless stream of empty gzip members (inflating to nothing) is stopped at the compressed bound of the quota', async () => {
  await admin.setQuota('bob', { gib: 1 });
  const flood = emptyGzipMembers(4 * GIB);
  const refused = await streamUpload(BOB, flood.chunks());
  assert.equal(refused.status, 507, refused.message);
  assert.equal(refused.code, 'QUOTA_EXCEEDED');
  assert.match(refused.message, /^quota exceeded: \d+ bytes were received for at most 1 GiB of content, which is all the 1 GiB quota of bob leaves; the upload was stopped and nothing was kept$/);
  const received = Number(/^quota exceeded: (\d+) bytes/.exec(refused.message)?.[1]);
  assert.ok(received > GIB && received < 1.02 * GIB + 2 * MIB, `stopped after ${received} bytes`);
  assert.ok(refused.sent < 1.2 * GIB, `the client sent ${refused.sent} bytes of ${flood.size}`);
  await eventually('the refused upload is removed', () => tmpEmpty(volumesDir));
  assert.deepEqual(await assertConsistent(admin, volumesDir, 'after a flood of empty gzip members'), []);
  await admin.setQuota('bob', { gib: null });
});

test('max_volume_gib bounds empty volumes too (413), and a bad value stops the server from starting', async () => {
  assertError(await call(server.url, 'POST', '/pswd/disks/', ALICE, { body: { size: 3 } }), 413, 'VOLUME_TOO_LARGE',
    "a volume of 3 GiB is larger than this server's limit of 2 GiB (max_volume_gib)");
  const ok = await new PdiskClient(server.url, ALICE).create({ size: 2 });
  await admin.delete(ok.uuid);

  for (const bad of ['0', '-1', '1.5', 'lots']) {
    const dir = join(tempDir(), 'data');
    mkdirSync(dir);
    writeFileSync(join(dir, 'stratus.cfg'), `[pdisk]\nmax_volume_gib = ${bad}\n`);
    assert.throws(() => loadServerSettings({ dataDir: dir }), (e: unknown) => isStratusError(e, 'CONFIG_INVALID') && /max_volume_gib = .* is not a whole number ≥ 1/.test(e.message));
  }
  assert.equal(loadServerSettings({ dataDir: join(tempDir(), 'default') }).maxVolumeGib, 1024, 'the default is StratusLab\'s largest volume');
  await assertConsistent(admin, volumesDir, 'at the end');
});

test('a client that keeps sending after the answer is cut off once the server has dropped 64 MiB of the rest', async () => {
  // Not gzip: refused on the first bytes. The client ignores the answer and sends 256 MiB.
  const junk = Buffer.alloc(MIB, 0x5a);
  let sent = 0;
  const outcome = await new Promise<string>((resolve) => {
    const req = httpRequest(`${server.url}/pswd/disks/`, {
      method: 'POST', agent: false, headers: { authorization: basic(ALICE), 'content-type': 'application/gzip' },
    }, (res) => res.resume());
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    const pump = (): void => {
      while (sent < 256 * MIB) {
        sent += junk.length;
        if (!req.write(junk)) return void req.once('drain', pump);
      }
      req.end(() => resolve('sent everything'));
    };
    pump();
  });
  assert.match(outcome, /^(ECONNRESET|EPIPE)$/, `the connection was closed (${outcome}) after ${(sent / MIB).toFixed(0)} MiB`);
  assert.ok(sent < 128 * MIB, `the server read ${(sent / MIB).toFixed(0)} MiB before it closed the connection`);
  await eventually('the refused upload is removed', () => tmpEmpty(volumesDir));
  await assertConsistent(admin, volumesDir, 'after a client that would not stop');
  assert.equal((await call(server.url, 'GET', '/pswd/disks/', ALICE)).status, 200, 'the server keeps serving');
});
