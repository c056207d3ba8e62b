/**
 * The instance layer cache, as an attacker would try it on a real `stratus serve`: bob against
 * alice's layers (by their key, which a client may leak: it is a hash of a public image and a
 * script) and against her running instance, and keys shaped as paths. Alice's layer must not
 * exist for him: he gets what a key nobody has gets, and nothing of hers changes. The guests
 * boot a disk that writes a sector and halts (test/helpers/halt-disk.ts): real QEMU, no OS.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Credentials } from '../../src/client/pdisk-client.js';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import { LayerClient } from '../../src/client/layer-client.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import { assertError, basic, call } from '../helpers/pdisk.js';
import { until, writerMarks, writerOrigin } from '../helpers/halt-disk.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ADMIN: Credentials = { username: 'admin', password: 'admin-layers-sec-password' };
const ALICE: Credentials = { username: 'alice', password: 'alice-layers-sec-password' };
const BOB: Credentials = { username: 'bob', password: 'bob-layers-sec-password' };

const work = tempDir('stratus-layers-sec-');
const dataDir = join(work, 'data');
const vms: number[] = [];
// Registered before the server's own stop, so it runs while the server is still up (a stopped
// server leaves its VMs running for the next one).
after(async () => {
  for (const id of vms) await new LayerClient(server.url, ADMIN).killInstance(id).catch(() => undefined);
});
const server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
const base = server.url;
for (const c of [ALICE, BOB]) await new PdiskClient(base, ADMIN).addUser({ ...c });
// PUBLIC, so bob may run the image itself: only the layer is alice's.
const origin = await writerOrigin(base, ALICE);
await new PdiskClient(base, ALICE).update(origin, { visibility: 'PUBLIC' });
const key = (): string => randomBytes(32).toString('hex');

const [aliceVm] = await new LayerClient(base, ALICE).runInstances({ image: origin, cpu: 1, ramMiB: 32 });
vms.push((aliceVm as InstanceInfo).id);
const disk = { path: join(dataDir, 'volumes', `${(aliceVm as InstanceInfo).disk as string}.qcow2`), format: 'qcow2' as const };
await until('alice\'s guest wrote its sector', async () => (await writerMarks(disk)).first);
const aliceKey = key();
await new LayerClient(base, ALICE).saveLayer((aliceVm as InstanceInfo).id, aliceKey);
const layerFiles = (): string[] => readdirSync(join(dataDir, 'layers')).flatMap((d) => readdirSync(join(dataDir, 'layers', d)));
const aliceFiles = layerFiles();

test("attack: bob reads, probes or deletes alice's layer by its key: 404, word for word what a key nobody has gets; her layer stays", async () => {
  const nobody = key();
  for (const k of [aliceKey, nobody]) {
    assertError(await call(base, 'GET', `/instances/layers/${k}`, BOB), 404, 'LAYER_NOT_FOUND', `no layer ${k}`);
    const head = await fetch(`${base}/instances/layers/${k}`, { method: 'HEAD', headers: { authorization: basic(BOB) } });
    assert.deepEqual([head.status, head.headers.get('x-stratus-error')], [404, 'LAYER_NOT_FOUND']);
    assertError(await call(base, 'DELETE', `/instances/layers/${k}`, BOB), 404, 'LAYER_NOT_FOUND', `no layer ${k}`);
  }
  assert.equal(await new LayerClient(base, BOB).hasLayer(aliceKey), false);
  assert.equal(await new LayerClient(base, ALICE).hasLayer(aliceKey), true, 'alice still has it');
  assert.deepEqual(layerFiles(), aliceFiles);
  assert.equal((await call(base, 'GET', `/instances/layers/${aliceKey}`)).status, 401, 'and nobody anonymous sees it either');
});

test("attack: bob runs the image with alice's layer key: 404 before anything is made, and he has no instance", async () => {
  const run = await call(base, 'POST', '/instances', BOB, { body: { image: origin, cpu: 1, ramMiB: 32, layer: aliceKey } });
  assertError(run, 404, 'LAYER_NOT_FOUND', `no layer ${aliceKey}`);
  assert.deepEqual(JSON.parse((await call(base, 'GET', '/instances', BOB)).text), []);
  assert.deepEqual((await new PdiskClient(base, BOB).list()).filter((v) => v.owner === 'bob'), [], 'no disk of his was made');
});

test("attack: bob saves a layer of alice's running instance: 404 as for a vm ID nobody has, her guest is not paused, and no layer is kept", async () => {
  const vm = (aliceVm as InstanceInfo).id;
  for (const id of [vm, vm + 1000]) {
    assertError(await call(base, 'POST', `/instances/${id}/layers`, BOB, { body: { key: key() } }), 404, 'INSTANCE_NOT_FOUND', `VM ${id} does not exist`);
  }
  assert.deepEqual(layerFiles(), aliceFiles);
  // Alice saves again: her guest must be running (a paused one is refused).
  const again = key();
  await new LayerClient(base, ALICE).saveLayer(vm, again);
  await new LayerClient(base, ALICE).deleteLayer(again);
  // The admin may freeze her VM; the layer is then the admin's, which alice does not see.
  const admins = key();
  const made = await call(base, 'POST', `/instances/${vm}/layers`, ADMIN, { body: { key: admins } });
  assert.equal(made.status, 201, made.text);
  assert.equal(await new LayerClient(base, ALICE).hasLayer(admins), false);
  await new LayerClient(base, ADMIN).deleteLayer(admins);
});

test('attack: keys that are paths or not 64 lowercase hex digits are refused with 400 on every route, and no file outside the cache is touched', async () => {
  const vm = (aliceVm as InstanceInfo).id;
  for (const bad of ['../../etc', '../../../../etc/passwd', '.', '..', aliceKey.toUpperCase(), aliceKey.slice(1), `${aliceKey}00`, 'x'.repeat(5000)]) {
    // A path segment of dots alone is resolved by the URL itself before it is sent (no key reaches the server).
    // (Fastify answers a path parameter over 100 characters itself, with 414, before any handler.)
    if (!/^\.+$/.test(bad) && bad.length <= 100) {
      const path = encodeURIComponent(bad);
      assertError(await call(base, 'GET', `/instances/layers/${path}`, ALICE), 400, 'LAYER_INVALID', /is not 64 lowercase hexadecimal digits$/);
      assertError(await call(base, 'DELETE', `/instances/layers/${path}`, ALICE), 400, 'LAYER_INVALID');
    }
    assertError(await call(base, 'POST', `/instances/${vm}/layers`, ALICE, { body: { key: bad } }), 400, 'LAYER_INVALID');
    assertError(await call(base, 'POST', '/instances', ALICE, { body: { image: origin, cpu: 1, ramMiB: 32, layer: bad } }), 400, 'LAYER_INVALID');
  }
  const long = await call(base, 'POST', `/instances/${vm}/layers`, ALICE, { body: { key: 'a'.repeat(5000) } });
  assert.ok(long.text.length < 1000, 'the message quotes a bad key cut short');
  for (const body of [{ key: { path: '../../etc' } }, {}, { key: ['..', 'etc'] }]) {
    assertError(await call(base, 'POST', `/instances/${vm}/layers`, ALICE, { body }), 400, 'USAGE');
  }
  // Unencoded dots never reach a handler: the router has no route with more segments.
  const raw = await new Promise<number>((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path: '/instances/layers/../../../etc/passwd', method: 'DELETE', headers: { authorization: basic(ALICE) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(raw, 404);
  assert.ok(existsSync('/etc/passwd'));
  assert.deepEqual(layerFiles(), aliceFiles);
  assert.equal(await new LayerClient(base, ALICE).hasLayer(aliceKey), true);
});
