/**
 * Requests that do not fit their route's schema (src/domain/routes) against a real server:
 * values of the wrong type, repeated query parameters and prototype keys are refused with 400
 * USAGE naming the field, in whichever form the client asked for, before any handler or
 * service sees them, and nothing is stored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Credentials } from '../../src/client/pdisk-client.js';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import { assertError, call } from '../helpers/pdisk.js';
import { ADMIN, startConfiguredServer } from '../helpers/hostile-client.js';

const server = await startConfiguredServer();
const base = server.url;
const ALICE: Credentials = { username: 'alice', password: 'alice-schema-password' };
const admin = new PdiskClient(base, ADMIN);
const alice = new PdiskClient(base, ALICE);
await admin.addUser({ ...ALICE });

test('a mount whose node or vm_id is not text is refused naming the field, and no mount is recorded', async () => {
  const volume = await alice.create({ size: 1, tag: 'mount-target' });
  // Before the schemas these were recorded as node "[object Object]" and VM "a,b".
  assertError(await call(base, 'POST', `/pswd/disks/${volume.uuid}/mounts`, ALICE, { body: { node: { toString: 'x' }, vm_id: '1' } }), 400, 'USAGE', /^node \(in the request body\) must be string, not \{"toString":"x"\}$/);
  assertError(await call(base, 'POST', `/pswd/disks/${volume.uuid}/mounts`, ALICE, { body: { node: 'n', vm_id: ['a', 'b'] } }), 400, 'USAGE', /^vm_id \(in the request body\) must be string or integer, not \["a","b"\]$/);
  assert.deepEqual(await alice.mounts(volume.uuid), []);
});

test('fields of the wrong type on volumes and accounts are refused before the service sees them', async () => {
  const volume = await alice.create({ size: 1, tag: 'typed' });
  assertError(await call(base, 'PUT', `/pswd/disks/${volume.uuid}`, ALICE, { body: { visibility: ['PUBLIC', 'PRIVATE'] } }), 400, 'USAGE', /^visibility \(in the request body\) must be string/);
  assert.equal((await alice.get(volume.uuid)).visibility, 'PRIVATE');
  // "yes" used to be read as not-admin, silently; an admin flag is true or false.
  assertError(await call(base, 'POST', '/users', ADMIN, { body: { username: 'eve', password: 'eve-password-1', admin: 'yes' } }), 400, 'USAGE', /^admin \(in the request body\) must be boolean, not "yes"$/);
  assert.ok(!(await admin.users()).some((u) => u.username === 'eve'), 'no account was made');
});

test('a prototype key in a JSON body is refused, and makes no admin', async () => {
  const body = '{"username":"mallory","password":"mallory-password","__proto__":{"admin":true}}';
  const res = await fetch(`${base}/users`, { method: 'POST', headers: { authorization: 'Basic ' + Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64'), 'content-type': 'application/json', accept: 'application/json' }, body });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('x-stratus-error'), 'USAGE');
  assert.ok(!(await admin.users()).some((u) => u.username === 'mallory'));
});

test('a listing parameter given twice is refused rather than one of them quietly winning', async () => {
  const res = await fetch(`${base}/metadata?status=valid&status=all`, { headers: { accept: 'application/json' } });
  assert.equal(res.status, 400);
  const body = await res.json() as Record<string, string>;
  assert.equal(body.code, 'USAGE');
  assert.match(body['400'] ?? '', /^status \(in the query string\) must be string, not \["valid","all"\]$/);
});

test('a schema refusal comes through the one error mapper, in XML, HTML and plain text too', async () => {
  const volume = await alice.create({ size: 1, tag: 'forms' });
  const path = `/pswd/disks/${volume.uuid}/mounts`;
  for (const [accept, pattern] of [['application/xml', /^<\?xml[^>]*><error>node \(in the request body\) must be string, not \{\}<\/error>$/], ['text/plain', /^node \(in the request body\) must be string, not \{\}\nhint: See POST \/pswd\/disks\/:uuid\/mounts in GET \/openapi.json, or docs\/api.md.\n$/], ['text/html', /node \(in the request body\) must be string/]] as const) {
    const a = await call(base, 'POST', path, ALICE, { body: { node: {}, vm_id: '1' }, accept });
    assert.equal(a.status, 400, accept);
    assert.equal(a.headers.get('x-stratus-error'), 'USAGE');
    assert.match(a.text, pattern, accept);
  }
});

test('attack: a network card model carrying more QEMU device options is refused before anything runs', async () => {
  const body = { image: 'PxJQ0F1u9P0vKrrVafwoOm6zH7a', cpu: 1, ramMiB: 128, networkModel: 'e1000,romfile=/etc/shadow' };
  const a = await call(base, 'POST', '/instances', ALICE, { body });
  assertError(a, 400, 'USAGE', /networkModel (\(in the request body\) )?must be/);
  const listed = await call(base, 'GET', '/instances', ALICE);
  assert.equal(listed.status, 200);
  assert.deepEqual(JSON.parse(listed.text), []);
});
