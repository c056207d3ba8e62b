/**
 * Who may do what with a volume, anonymous callers included, against a real `stratus serve`:
 * anyone reads a PUBLIC volume (its JSON and its gzipped image, with Range); everything else
 * needs the owner or the admin; private volumes are 404 to other users and to anonymous
 * callers, answered exactly as for a volume that does not exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import type { Credentials } from '../../src/client/pdisk-client.js';
import { assertError, basic, call, image, streamOf } from '../helpers/pdisk.js';
import type { Answer } from '../helpers/pdisk.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ADMIN: Credentials = { username: 'admin', password: 'admin-public-password' };
const ALICE: Credentials = { username: 'alice', password: 'alice-password-1' };
const BOB: Credentials = { username: 'bob', password: 'bob-password-22' };
const server = await startServerProcess(tempDir('stratus-pdisk-public-'), [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
const admin = new PdiskClient(server.url, ADMIN);
await admin.addUser({ ...ALICE });
await admin.addUser({ ...BOB });
const alice = new PdiskClient(server.url, ALICE);

const content = image(500);
const gz = gzipSync(content);
const pub = await alice.upload(streamOf(gz), { gzipped: true, size: gz.length, visibility: 'public', tag: 'public-image' });
const privContent = image(501);
const privGz = gzipSync(privContent);
const priv = await alice.upload(streamOf(privGz), { gzipped: true, size: privGz.length, tag: 'private-image' });

type Who = 'anonymous' | 'alice' | 'bob' | 'admin' | 'wrong password';
const WHO: Record<Who, { auth?: string }> = {
  anonymous: {},
  alice: { auth: basic(ALICE) },
  bob: { auth: basic(BOB) },
  admin: { auth: basic(ADMIN) },
  'wrong password': { auth: basic({ username: 'alice', password: 'not-alices' }) },
};

async function get(path: string, who: Who, headers: Record<string, string> = {}): Promise<Answer & { body: Buffer }> {
  const auth = WHO[who].auth;
  const res = await fetch(server.url + path, { headers: { accept: 'application/json', ...headers, ...(auth ? { authorization: auth } : {}) } });
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, text: body.toString('utf8'), body };
}

test('reading: PUBLIC volumes to anyone (JSON, gzip, Range), private ones to the owner and the admin only; wrong credentials are always 401', async () => {
  for (const prefix of ['/pswd/disks', '/disks']) {
    for (const who of Object.keys(WHO) as Who[]) {
      const where = `${who} on ${prefix}`;
      if (who === 'wrong password') {
        for (const v of [pub, priv]) assertError(await get(`${prefix}/${v.uuid}`, who), 401, 'AUTH_REQUIRED');
        continue;
      }
      // PUBLIC: everyone.
      const json = await get(`${prefix}/${pub.uuid}`, who);
      assert.equal(json.status, 200, `${where}: ${json.text}`);
      assert.equal((JSON.parse(json.text) as { identifier: string }).identifier, pub.identifier);
      const whole = await get(`${prefix}/${pub.uuid}`, who, { accept: 'application/x-gzip' });
      assert.equal(whole.status, 200, where);
      assert.ok(gunzipSync(whole.body).equals(content), `${where}: the gzip download`);
      const viaQuery = await get(`${prefix}/${pub.uuid}?media=gzip`, who);
      assert.ok(viaQuery.body.equals(whole.body), `${where}: ?media=gzip`);
      const part = await get(`${prefix}/${pub.uuid}`, who, { accept: 'application/x-gzip', range: 'bytes=100-4195' });
      assert.equal(part.status, 206, where);
      assert.equal(part.headers.get('content-range'), `bytes 100-4195/${gz.length}`);
      assert.ok(part.body.equals(gz.subarray(100, 4196)), `${where}: the range`);
      const resumed = await get(`${prefix}/${pub.uuid}`, who, { accept: 'application/x-gzip', range: 'bytes=4196-', 'if-range': `"${pub.uuid}-${gz.length}"` });
      assert.ok(Buffer.concat([gz.subarray(0, 4196), resumed.body]).equals(gz), `${where}: a resumed download`);

      // Private: the owner and the admin; others, anonymous included, get what a missing volume gets.
      const mine = who === 'alice' || who === 'admin';
      const pj = await get(`${prefix}/${priv.uuid}`, who);
      const pg = await get(`${prefix}/${priv.uuid}`, who, { accept: 'application/x-gzip' });
      if (mine) {
        assert.equal(pj.status, 200, where);
        assert.ok(gunzipSync(pg.body).equals(privContent), where);
        continue;
      }
      const nobody = randomUUID();
      assertError(pj, 404, 'VOLUME_NOT_FOUND', `no volume ${priv.uuid}`);
      assertError(pg, 404, 'VOLUME_NOT_FOUND');
      for (const [a, headers] of [[pj, {}], [pg, { accept: 'application/x-gzip' }]] as const) {
        const missing = await get(`${prefix}/${nobody}`, who, headers);
        assert.equal(a.text.replaceAll(priv.uuid, 'U'), missing.text.replaceAll(nobody, 'U'), `${where}: a private volume is answered as a missing one`);
        assert.doesNotMatch(a.text, /private-image|alice/, where);
      }
      if (who === 'anonymous') assert.match((JSON.parse(pj.text) as { hint: string }).hint, /^Only PUBLIC volumes can be read without an account/);
    }
  }
});

test('everything but reading one volume needs an account; then the usual rights apply', async () => {
  const anonymous: Array<[string, string, unknown]> = [
    ['GET', '/pswd/disks/', undefined],
    ['POST', '/pswd/disks/', { size: 1 }],
    ['PUT', `/pswd/disks/${pub.uuid}`, { tag: 'anonymous-was-here' }],
    ['DELETE', `/pswd/disks/${pub.uuid}`, undefined],
    ['POST', `/pswd/disks/${pub.uuid}`, {}],
    ['POST', `/pswd/disks/${pub.uuid}/snapshot`, {}],
    ['GET', `/pswd/disks/${pub.uuid}/mounts`, undefined],
    ['POST', `/pswd/disks/${pub.uuid}/mounts`, { node: 'n', vm_id: '1' }],
    ['DELETE', `/pswd/disks/${priv.uuid}`, undefined],
    ['GET', '/users/me', undefined],
  ];
  for (const [method, path, body] of anonymous) {
    const a = await call(server.url, method, path, undefined, body === undefined ? {} : { body });
    assertError(a, 401, 'AUTH_REQUIRED');
    assert.match(a.headers.get('www-authenticate') ?? '', /^Basic realm="Stratus"/, `${method} ${path}`);
  }
  // An anonymous upload is refused before any byte is stored.
  const up = await fetch(`${server.url}/pswd/disks/`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: Uint8Array.from(gzipSync(image(502))) });
  assert.equal(up.status, 401);

  // Bob may read and mount the PUBLIC volume, not change or delete it.
  assertError(await call(server.url, 'PUT', `/pswd/disks/${pub.uuid}`, BOB, { body: { tag: 'bob' } }), 403, 'FORBIDDEN');
  assertError(await call(server.url, 'DELETE', `/pswd/disks/${pub.uuid}`, BOB), 403, 'FORBIDDEN');
  assertError(await call(server.url, 'PUT', `/pswd/disks/${priv.uuid}`, BOB, { body: { tag: 'bob' } }), 404, 'VOLUME_NOT_FOUND');
  assert.equal((await call(server.url, 'GET', `/pswd/disks/${pub.uuid}/mounts`, BOB)).status, 200);
  const vols = await admin.list();
  assert.deepEqual(vols.map((v) => [v.uuid, v.tag, v.visibility]).sort(), [[pub.uuid, 'public-image', 'PUBLIC'], [priv.uuid, 'private-image', 'PRIVATE']].sort(),
    'nothing anonymous or Bob tried changed anything');

  // Made private again, the volume disappears for anonymous callers.
  await alice.update(pub.uuid, { visibility: 'private' });
  assertError(await get(`/pswd/disks/${pub.uuid}`, 'anonymous'), 404, 'VOLUME_NOT_FOUND');
  await alice.update(pub.uuid, { visibility: 'public' });
  assert.equal((await get(`/pswd/disks/${pub.uuid}`, 'anonymous')).status, 200);
});
