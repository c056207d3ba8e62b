/**
 * Issue 10 §1, drafts, performed against a real `stratus serve`: a draft the service signed for
 * alice is hers (and the admin's) alone. Bob cannot list, fetch, search, run or displace it;
 * nobody can make an upload look service-signed through the public API, neither with a
 * certificate of their own that copies the service's names nor by posting the service's own
 * signed draft; and only the admin makes drafts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { addAccount } from '../helpers/cloud.js';
import { postEntry } from '../helpers/upload.js';
import { buildEntryXml } from '../../src/metadata/entry/build.js';
import type { EntrySummary } from '../../src/domain/wire.js';

const dir = tempDir('stratus-sec-drafts-');
const ADMIN = { username: 'admin', password: 'admin-drafts-pass' };
const ALICE = { username: 'alice', password: 'alice-drafts-pass' };
const BOB = { username: 'bob', password: 'bob-drafts-pass' };
const server = await startServerProcess(join(dir, 'data'), [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
await addAccount(server.url, ADMIN, ALICE.username, ALICE.password);
await addAccount(server.url, ADMIN, BOB.username, BOB.password);
type Who = { username: string; password: string } | undefined;
const basic = (u: Who): Record<string, string> => (u ? { authorization: `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}` } : {});

// The draft's image is served with bytes that do not match its SHA-1: a run that gets past the
// entry lookup is then refused by the image cache (502), which proves the lookup found it.
const served = gzipSync(randomBytes(1024));
const http = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(served.length) });
  res.end(req.method === 'HEAD' ? undefined : served);
});
await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
const image = draft({ title: 'alice saved image', locations: [`http://127.0.0.1:${(http.address() as AddressInfo).port}/image.img.gz`] });

async function makeDraft(owner: string, who: Who, xml = buildEntryXml(image)): Promise<Response> {
  return fetch(`${server.url}/metadata/drafts?owner=${owner}`, { method: 'POST', body: xml, headers: { 'content-type': 'application/xml', accept: 'application/json', ...basic(who) } });
}

async function listed(who: Who, query = `identifier=${image.identifier}&status=all`): Promise<EntrySummary[]> {
  const res = await fetch(`${server.url}/metadata?media=json&${query}`, { headers: basic(who) });
  assert.equal(res.status, 200);
  return ((await res.json()) as { entries: EntrySummary[] }).entries;
}

const made = await makeDraft('alice', ADMIN);
assert.equal(made.status, 201, await made.clone().text());
const draftPath = ((await made.json()) as { path: string }).path;
const serviceEmail = draftPath.split('/')[3] ?? '';
test.after(() => http.close());

test('the draft is signed by the service and seen by alice and the admin only', async () => {
  assert.match(serviceEmail ?? '', /^stratus-service@/);
  for (const who of [ALICE, ADMIN]) {
    const entries = await listed(who);
    assert.deepEqual(entries.map((e) => [e.email, e.status]), [[serviceEmail, 'valid']], who.username);
    assert.match(entries[0]?.subject ?? '', /CN=stratus service /, 'the endorser is whoever the certificate says: the service');
  }
  const own = await fetch(`${server.url}${draftPath}?media=xml`, { headers: basic(ALICE) });
  assert.equal(own.status, 200);
});

test('bob and anonymous callers never see it: listings in XML, JSON and HTML, the entry, free text, DataTables, endorsers', async () => {
  for (const who of [BOB, undefined]) {
    const name = who?.username ?? 'anonymous';
    assert.deepEqual(await listed(who), [], name);
    assert.deepEqual(await listed(who, 'q=alice%20saved'), [], `${name}: free text`);
    const xml = await fetch(`${server.url}/metadata/${image.identifier}?media=xml&status=all`, { headers: basic(who) });
    assert.equal(xml.status, 404, `${name}: XML listing`);
    const html = await fetch(`${server.url}/?q=alice+saved`, { headers: basic(who) });
    assert.doesNotMatch(await html.text(), new RegExp(image.identifier), `${name}: search page`);
    const entry = await fetch(`${server.url}${draftPath}?media=json`, { headers: basic(who) });
    assert.equal(entry.status, 404, `${name}: the entry by its full key`);
    assert.equal(entry.headers.get('x-stratus-error'), 'ENTRY_NOT_FOUND');
    const table = await fetch(`${server.url}/metadata`, { method: 'POST', body: 'sSearch=alice+saved&sEcho=1', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic(who) } });
    assert.equal(((await table.json()) as { aaData: unknown[] }).aaData.length, 0, `${name}: DataTables`);
  }
  const endorsers = await fetch(`${server.url}/endorsers?media=json`);
  assert.doesNotMatch(await endorsers.text(), /stratus-service@/);
});

test('bob cannot run alice\'s draft (no such image for him); alice gets past the lookup', async () => {
  const run = async (who: Who): Promise<Response> => fetch(`${server.url}/instances`, {
    method: 'POST', body: JSON.stringify({ image: image.identifier, cpu: 1, ramMiB: 128 }),
    headers: { 'content-type': 'application/json', accept: 'application/json', ...basic(who) },
  });
  const bob = await run(BOB);
  assert.equal(bob.status, 404, await bob.clone().text());
  assert.equal(bob.headers.get('x-stratus-error'), 'NO_MATCH');
  const alice = await run(ALICE);
  assert.equal(alice.status, 502, 'the image cache fetched it, and refused the wrong bytes');
  assert.match(await alice.text(), /SHA-1/i);
});

test('only the admin makes drafts; an unknown owner is named', async () => {
  const bob = await makeDraft('bob', BOB);
  assert.equal(bob.status, 403);
  assert.equal(bob.headers.get('x-stratus-error'), 'FORBIDDEN');
  const anonymous = await makeDraft('bob', undefined);
  assert.equal(anonymous.status, 401);
  const nobody = await makeDraft('nobody', ADMIN);
  assert.equal(nobody.status, 404);
  assert.equal(nobody.headers.get('x-stratus-error'), 'USER_NOT_FOUND');
  assert.deepEqual(await listed(BOB), [], 'nothing was stored for bob');
});

test('a forged "draft" through the public API is refused, never stored as a draft nor as the service', async () => {
  // A certificate of mallory's own that copies the service's names.
  const forgedDir = join(dir, 'mallory');
  mkdirSync(forgedDir, { recursive: true });
  const service = (await listed(ADMIN))[0];
  const cn = /CN=([^,]+)/.exec(service?.subject ?? '')?.[1] ?? '';
  const mallory = makeSigner(forgedDir, cn, serviceEmail);
  const forged = await postEntry(server.url, signedXml(mallory, draft({ title: 'forged draft' })));
  assert.equal(forged.status, 403, forged.body);
  assert.equal(forged.code, 'TRUST_REJECTED');
  // The service's genuine signed draft, posted by its owner as a public entry.
  const genuine = await (await fetch(`${server.url}${draftPath}?media=xml`, { headers: basic(ALICE) })).text();
  const replay = await fetch(`${server.url}/metadata`, { method: 'POST', body: genuine, headers: { 'content-type': 'application/xml', accept: 'application/json', ...basic(ALICE) } });
  assert.equal(replay.status, 403);
  assert.equal(replay.headers.get('x-stratus-error'), 'TRUST_REJECTED');
  assert.deepEqual((await listed(undefined, 'status=all')).filter((e) => e.email === serviceEmail), [], 'nothing public under the service');
  assert.deepEqual((await listed(ADMIN, 'status=all&q=forged')), [], 'and no draft either');
});

test('bob uploading the same identifier with his own certificate is a normal upload: it works, and alice\'s draft stays hers', async () => {
  const bobDir = join(dir, 'bob');
  mkdirSync(bobDir, { recursive: true });
  const signer = makeSigner(bobDir, 'Bob', 'bob@example.org');
  const res = await fetch(`${server.url}/metadata`, { method: 'POST', body: signedXml(signer, image), headers: { 'content-type': 'application/xml', ...basic(BOB) } });
  assert.equal(res.status, 201, await res.text());
  assert.deepEqual((await listed(undefined)).map((e) => e.email), ['bob@example.org']);
  assert.deepEqual((await listed(ALICE)).map((e) => [e.email, e.status]).sort(), [['bob@example.org', 'valid'], [serviceEmail, 'valid']]);
  assert.deepEqual((await listed(BOB)).map((e) => e.email), ['bob@example.org'], 'bob still does not see the draft');
});
