/**
 * The route table, the server and /openapi.json agree. A real `stratus serve` is called on
 * every route of the table (success cases in each media type the route serves, and error
 * cases for every resource), and each real answer is checked against the document the
 * server publishes. A route of the table that no test here calls fails the last test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { marketplaceRoutes as mp, pdiskRoutes as pd, userRoutes as us, instanceRoutes as ins, actionRoutes as ac, documentRoute, pathOf, routeTable } from '../../src/domain/routes/index.js';
import type { VolumeInfo } from '../../src/domain/volume.js';
import { startServerProcess } from '../helpers/server.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';
import { haltOrigin } from '../helpers/halt-disk.js';
import { dataDirWithConfig } from '../helpers/upload.js';
import { readConfirmation } from '../helpers/confirmation.js';
import { DocumentChecker } from '../helpers/openapi-check.js';
import type { Answer, OpenApiDocument } from '../helpers/openapi-check.js';

const dir = tempDir('stratus-openapi-');
const ADMIN = { username: 'admin', password: 'admin-openapi-password' };
const ALICE = { username: 'alice', password: 'alice-openapi-password' };
const server = await startServerProcess(join(dir, 'data'), [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
const docAnswer = await fetch(`${server.url}/openapi.json`);
const api = new DocumentChecker(server.url, await docAnswer.json() as OpenApiDocument);
// Every server is started before the first test() (the file's tests start while its top-level awaits run).
// A second server that holds uploads for confirmation by e-mail; its mail goes to the outbox.
const confirming = await startServerProcess(dataDirWithConfig(dir, 'confirming', '[marketplace]\nvalidate_email = true\n'));
const confirmApi = new DocumentChecker(confirming.url, await (await fetch(`${confirming.url}/openapi.json`)).json() as OpenApiDocument);
const JSON_ACCEPT = { accept: 'application/json' };
const XML_ACCEPT = { accept: 'application/xml' };
const HTML_ACCEPT = { accept: 'text/html' };

function errorCode(answer: { json(): unknown }): string | undefined {
  return (answer.json() as { code?: string }).code;
}

test('the server compiles every schema of the table without a warning', () => {
  assert.doesNotMatch(server.log(), /strict mode|schema/i);
});

test('the document lists every route of the table, once, with its media types', async () => {
  const answer = await api.call(documentRoute, { headers: JSON_ACCEPT });
  assert.equal(answer.status, 200);
  assert.equal(api.doc.openapi, '3.1.0');
  const documented = [...api.operations.keys()].sort();
  assert.deepEqual(documented, routeTable.map((r) => r.name).sort(), 'the document has exactly the table (aliases are served but not listed)');
  for (const route of routeTable) {
    const { path, method } = api.operations.get(route.name) ?? { path: '', method: '' };
    assert.equal(method, route.method, route.name);
    assert.equal(path, route.path.replace(/:(\w+)/g, '{$1}'), route.name);
  }
  // Routes that serve several representations say so.
  const listing = api.operations.get('metadata.list')?.op.responses['200']?.content ?? {};
  assert.deepEqual(Object.keys(listing).sort(), ['application/json', 'application/xml', 'text/html']);
  const upload = (api.doc.paths['/pswd/disks/']?.post as unknown as { requestBody: { required: boolean; content: object } }).requestBody;
  assert.deepEqual(Object.keys(upload.content).sort(), ['application/gzip', 'application/json', 'application/octet-stream', 'application/x-gzip', 'application/x-www-form-urlencoded', 'multipart/form-data']);
  assert.equal(upload.required, false);
});

test('the check refuses answers the document does not describe: an extra field, a wrong type, an undocumented status or media type', () => {
  const answer = (status: number, type: string, text: string): Answer =>
    ({ status, headers: new Headers({ 'content-type': type }), type, text, body: Buffer.from(text), json: () => JSON.parse(text) as unknown });
  api.check(us.me, answer(200, 'application/json', '{"username":"a","admin":false}'), 'as documented');
  assert.throws(() => api.check(us.me, answer(200, 'application/json', '{"username":"a","admin":false,"password":"x"}'), 'extra'), /does not match the document/);
  assert.throws(() => api.check(us.me, answer(200, 'application/json', '{"username":"a","admin":"no"}'), 'type'), /does not match the document/);
  assert.throws(() => api.check(us.me, answer(418, 'application/json', '{}'), 'status'), /status 418 is not documented/);
  assert.throws(() => api.check(us.me, answer(200, 'text/csv', 'a,b'), 'media'), /text\/csv is not documented/);
  assert.throws(() => api.check(us.me, answer(401, 'application/json', '{"401":"no","code":"USAGE","hint":"h"}'), 'code'), /does not match the document/, 'a code of another status');
});

// --- Marketplace --------------------------------------------------------------------------------

const signer = makeSigner(dir, 'Open Api', 'openapi@example.org');
const entry = draft({ alternative: 'openapi-tag' });
const second = draft();
const third = draft();

test('Marketplace: uploads (XML, multipart, JSON answers), the DataTables form, and their errors', async () => {
  const signed = signedXml(signer, entry);
  const created = await api.call(mp.upload, { body: signed, headers: { 'content-type': 'application/xml' } });
  assert.equal(created.status, 201);
  assert.equal(created.type, 'text/plain');
  const again = await api.call(mp.upload, { body: signed, headers: { 'content-type': 'application/xml', ...JSON_ACCEPT } });
  assert.equal(again.status, 200);
  assert.equal((again.json() as { status: string }).status, 'exists');
  assert.equal((await api.call(mp.upload, { body: signedXml(signer, second), headers: { 'content-type': 'application/rdf+xml', ...JSON_ACCEPT } })).status, 201);
  const form = new FormData();
  form.append('Metadata File', new Blob([signedXml(signer, third)], { type: 'application/xml' }), 'entry.xml');
  const html = await api.call(mp.upload, { body: form, headers: HTML_ACCEPT });
  assert.equal(html.status, 201);
  assert.equal(html.type, 'text/html');
  const dataTables = await api.call(mp.upload, { form: { sEcho: '3', iDisplayStart: '0', iDisplayLength: '10', sSearch: '', iSortCol_0: '6', sSortDir_0: 'desc' } });
  assert.equal(dataTables.status, 200);
  assert.equal((dataTables.json() as { sEcho: number }).sEcho, 3);

  const unsigned = await api.call(mp.upload, { body: signedXml(signer, draft()).replace(/<(ds:)?Signature[\s\S]*<\/(ds:)?Signature>/, ''), headers: { 'content-type': 'application/xml', ...JSON_ACCEPT } });
  assert.equal(unsigned.status, 400);
  const none = await api.call(mp.upload, { headers: JSON_ACCEPT });
  assert.equal(none.status, 415);
  const badForm = await api.call(mp.upload, { form: { sSortDir_0: 'sideways' }, headers: JSON_ACCEPT });
  assert.equal(badForm.status, 400);
  assert.match((badForm.json() as Record<string, string>)['400'] ?? '', /^unknown sSortDir_0=sideways: use one of asc, desc$/);
});

test('Marketplace: listings in XML, JSON and HTML, by path arguments, and their errors', async () => {
  for (const [route, params] of [[mp.list, {}], [mp.searchPage, {}], [mp.listBy, { arg1: signer.email }], [mp.listBy2, { arg1: entry.identifier, arg2: signer.email }]] as const) {
    for (const media of ['xml', 'json', 'html']) {
      const answer = await api.call(route, { params, query: { media } });
      assert.equal(answer.status, 200, `${route.name} ${media}: ${answer.text.slice(0, 200)}`);
    }
  }
  assert.equal((await api.call(mp.searchPage)).type, 'text/html', 'the search page is HTML by default');
  assert.equal((await api.call(mp.list)).type, 'application/xml', 'data resources are XML by default');
  const bogus = await api.call(mp.list, { query: { status: 'bogus' }, headers: JSON_ACCEPT });
  assert.equal(bogus.status, 400);
  assert.equal(errorCode(bogus), 'USAGE');
  assert.equal((await api.call(mp.listBy, { params: { arg1: 'nobody@example.org' }, headers: XML_ACCEPT })).status, 404);
  for (const accept of ['application/xml', 'text/html', 'text/plain']) {
    const answer = await api.call(mp.searchPage, { query: { sort: 'size' }, headers: { accept } });
    assert.equal(answer.status, 400, accept);
  }
});

test('Marketplace: one entry, by path and by tag, in every representation; unknown ones are 404', async () => {
  const created = (await api.call(mp.list, { query: { identifier: entry.identifier, media: 'json' } }).then((a) => a.json())) as { entries: Array<{ created: string }> };
  const params = { identifier: entry.identifier, email: signer.email, created: created.entries[0]?.created ?? '' };
  const xml = await api.call(mp.entry, { params });
  assert.equal(xml.type, 'application/rdf+xml');
  const json = await api.call(mp.entry, { params, query: { media: 'json' } });
  assert.equal((json.json() as { signature: { valid: boolean } }).signature.valid, true);
  assert.equal((await api.call(mp.entry, { params, headers: HTML_ACCEPT })).type, 'text/html');
  // Three arguments that are not identifier, e-mail and date list instead.
  assert.equal((await api.call(mp.entry, { params: { identifier: entry.identifier, email: signer.email, created: 'x' }, query: { media: 'json' } })).status, 200);
  assert.equal((await api.call(mp.entry, { params: { ...params, created: '2000-01-01T00:00:00Z' }, headers: JSON_ACCEPT })).status, 404);

  for (const media of ['xml', 'json', 'html']) assert.equal((await api.call(mp.tag, { params: { email: signer.email, tag: 'openapi-tag' }, query: { media } })).status, 200, media);
  assert.equal((await api.call(mp.tag, { params: { email: signer.email, tag: 'no-such-tag' }, headers: JSON_ACCEPT })).status, 404);
  assert.equal((await api.call(mp.uploadPage)).type, 'text/html');
});

test('Marketplace: endorsers, their entries and tags in SPARQL XML, JSON and HTML', async () => {
  for (const media of ['xml', 'json', 'html']) {
    assert.equal((await api.call(mp.endorsers, { query: { media } })).status, 200, media);
    assert.equal((await api.call(mp.endorserEntries, { params: { email: signer.email }, query: { media, range: '7' } })).status, 200, media);
    assert.equal((await api.call(mp.endorserTags, { params: { email: signer.email }, query: { media } })).status, 200, media);
  }
  const tags = await api.call(mp.endorserTags, { params: { email: signer.email }, headers: JSON_ACCEPT });
  assert.deepEqual((tags.json() as { tags: string[] }).tags, ['openapi-tag']);
  assert.equal((await api.call(mp.endorsers)).type, 'application/sparql-results+xml');
});

// --- Confirmation links (validate_email) --------------------------------------------------------

const outbox = join(confirming.dataDir, 'outbox');
/** The token of the newest confirmation mail. */
const lastToken = (): string => {
  const newest = readdirSync(outbox).filter((n) => n.endsWith('.eml')).sort().at(-1) ?? '';
  return readConfirmation(readFileSync(join(outbox, newest), 'utf8')).token;
};
const holdOne = async (headers: Record<string, string> = {}): Promise<string> => {
  const held = await confirmApi.call(mp.upload, { body: signedXml(signer, draft()), headers: { 'content-type': 'application/xml', ...headers } });
  assert.equal(held.status, 202, held.text);
  return lastToken();
};

test('confirmation links: 202 uploads in each representation; GET in each; confirm, abort and abuse in each; unknown tokens 404', async () => {
  const text = await confirmApi.call(mp.upload, { body: signedXml(signer, draft()), headers: { 'content-type': 'application/xml' } });
  assert.deepEqual([text.status, text.type, text.text], [202, 'text/plain', 'confirmation email sent for new metadata entry\n']);
  const json = await confirmApi.call(mp.upload, { body: signedXml(signer, draft()), headers: { 'content-type': 'application/xml', ...JSON_ACCEPT } });
  assert.equal((json.json() as { status: string }).status, 'pending');
  const form = new FormData();
  form.append('Metadata File', new Blob([signedXml(signer, draft())], { type: 'application/xml' }), 'entry.xml');
  assert.equal((await confirmApi.call(mp.upload, { body: form, headers: HTML_ACCEPT })).type, 'text/html');

  const uuid = lastToken();
  for (const action of ['confirm', 'abort', 'abuse']) {
    for (const [headers, type] of [[HTML_ACCEPT, 'text/html'], [JSON_ACCEPT, 'application/json'], [{}, 'text/plain']] as const) {
      const shown = await confirmApi.call(ac.show, { params: { uuid, action }, headers });
      assert.deepEqual([shown.status, shown.type], [200, type], `${action} ${type}`);
    }
  }
  const confirmed = await confirmApi.call(ac.confirm, { params: { uuid }, headers: JSON_ACCEPT });
  assert.equal(confirmed.status, 201, confirmed.text);
  assert.ok(confirmed.headers.get('location')?.startsWith(`${confirming.url}/metadata/`));
  for (const route of [ac.confirm, ac.abort, ac.abuse]) {
    const gone = await confirmApi.call(route, { params: { uuid }, headers: JSON_ACCEPT });
    assert.deepEqual([gone.status, errorCode(gone)], [404, 'PENDING_UPLOAD_NOT_FOUND'], route.name);
  }
  assert.equal((await confirmApi.call(ac.show, { params: { uuid, action: 'confirm' }, headers: JSON_ACCEPT })).status, 404);
  const badAction = await confirmApi.call(ac.show, { params: { uuid, action: 'delete' }, headers: JSON_ACCEPT });
  assert.deepEqual([badAction.status, errorCode(badAction)], [400, 'USAGE']);
  const jsonBody = await confirmApi.call(ac.confirm, { params: { uuid }, json: {}, headers: JSON_ACCEPT });
  assert.equal(jsonBody.status, 415, 'the button posts a form or nothing');

  for (const [headers, type] of [[JSON_ACCEPT, 'application/json'], [HTML_ACCEPT, 'text/html'], [{}, 'text/plain']] as const) {
    const aborted = await confirmApi.call(ac.abort, { params: { uuid: await holdOne() }, headers });
    assert.deepEqual([aborted.status, aborted.type], [200, type]);
    const reported = await confirmApi.call(ac.abuse, { params: { uuid: await holdOne() }, headers });
    assert.deepEqual([reported.status, reported.type], [200, type]);
    const stored = await confirmApi.call(ac.confirm, { params: { uuid: await holdOne() }, headers, form: {} });
    assert.deepEqual([stored.status, stored.type], [201, type]);
  }
  assert.match(confirming.log(), /Abuse reported \(set \[marketplace\] admin_email to be mailed\)/);
});

// --- Accounts -----------------------------------------------------------------------------------

test('accounts: every route, as admin and as a user, with refusals', async () => {
  assert.equal((await api.call(us.add, { auth: ADMIN, json: { ...ALICE, quotaGib: 20 } })).status, 201);
  assert.equal((await api.call(us.add, { auth: ADMIN, json: { username: 'carol', password: 'carol-openapi-password', admin: false, quotaVolumes: 'none' } })).status, 201);
  assert.equal((await api.call(us.me, { auth: ALICE })).status, 200);
  assert.equal((await api.call(us.list, { auth: ADMIN })).status, 200);
  assert.equal((await api.call(us.password, { auth: ALICE, params: { name: 'alice' }, json: { password: ALICE.password } })).status, 200);
  const quota = await api.call(us.quota, { auth: ADMIN, params: { name: 'alice' }, json: { gib: 50, volumes: null } });
  assert.deepEqual([quota.status, (quota.json() as { quotaGib: number }).quotaGib], [200, 50]);
  assert.equal((await api.call(us.remove, { auth: ADMIN, params: { name: 'carol' } })).status, 200);

  assert.equal((await api.call(us.me, { headers: JSON_ACCEPT })).status, 401);
  assert.equal((await api.call(us.list, { auth: ALICE, headers: JSON_ACCEPT })).status, 403);
  assert.equal((await api.call(us.add, { auth: ADMIN, json: { ...ALICE }, headers: JSON_ACCEPT })).status, 409);
  const noPassword = await api.call(us.add, { auth: ADMIN, json: { username: 'dave' }, headers: JSON_ACCEPT });
  assert.deepEqual([noPassword.status, (noPassword.json() as Record<string, string>)['400']], [400, 'password is required (in the request body)']);
  const badQuota = await api.call(us.quota, { auth: ADMIN, params: { name: 'alice' }, json: { gib: { much: 1 } }, headers: JSON_ACCEPT });
  assert.deepEqual([badQuota.status, (badQuota.json() as Record<string, string>)['400']], [400, 'gib (in the request body) must be integer or string or null, not {"much":1}']);
  assert.equal((await api.call(us.remove, { auth: ADMIN, params: { name: 'nobody' }, headers: JSON_ACCEPT })).status, 404);
  assert.equal((await api.call(us.remove, { auth: ADMIN, params: { name: 'alice' }, query: { force: 'yes' }, headers: JSON_ACCEPT })).status, 400);
  assert.equal((await api.call(us.password, { auth: ALICE, params: { name: 'admin' }, json: { password: 'x-password-long' }, headers: JSON_ACCEPT })).status, 403);
});

test('Marketplace drafts: the admin makes one for an account (text, JSON, HTML answers); its owner sees it; refusals', async () => {
  const xml = (d = draft()): string => signedXml(signer, d);
  const made = await api.call(mp.drafts, { auth: ADMIN, query: { owner: 'alice' }, body: xml(), headers: { 'content-type': 'application/xml' } });
  assert.equal(made.status, 201);
  assert.equal(made.type, 'text/plain');
  const mine = draft();
  const json = await api.call(mp.drafts, { auth: ADMIN, query: { owner: 'alice' }, body: xml(mine), headers: { 'content-type': 'application/rdf+xml', ...JSON_ACCEPT } });
  assert.equal(json.status, 201);
  const path = (json.json() as { path: string }).path;
  assert.equal((await api.call(mp.drafts, { auth: ADMIN, query: { owner: 'alice' }, body: xml(), headers: { 'content-type': 'text/xml', ...HTML_ACCEPT } })).type, 'text/html');
  const [, , identifier, email, created] = path.split('/') as [string, string, string, string, string];
  assert.equal((await api.call(mp.entry, { auth: ALICE, params: { identifier, email, created }, query: { media: 'json' } })).status, 200);
  assert.equal((await api.call(mp.entry, { params: { identifier, email, created }, headers: JSON_ACCEPT })).status, 404, 'not for anonymous callers');

  assert.equal((await api.call(mp.drafts, { auth: ALICE, query: { owner: 'alice' }, body: xml(), headers: { 'content-type': 'application/xml', ...JSON_ACCEPT } })).status, 403);
  assert.equal((await api.call(mp.drafts, { query: { owner: 'alice' }, body: xml(), headers: { 'content-type': 'application/xml', ...JSON_ACCEPT } })).status, 401);
  assert.equal((await api.call(mp.drafts, { auth: ADMIN, query: { owner: 'nobody' }, body: xml(), headers: { 'content-type': 'application/xml', ...JSON_ACCEPT } })).status, 404);
  assert.equal((await api.call(mp.drafts, { auth: ADMIN, body: xml(), headers: { 'content-type': 'application/xml', ...JSON_ACCEPT } })).status, 400);
  assert.equal((await api.call(mp.drafts, { auth: ADMIN, query: { owner: 'alice' }, headers: JSON_ACCEPT })).status, 415);
  assert.equal((await api.call(mp.list, { auth: { username: 'alice', password: 'wrong-password' }, headers: JSON_ACCEPT })).status, 401, 'credentials sent to a listing must be right');
});

// --- pdisk --------------------------------------------------------------------------------------

test('pdisk: every route at /pswd/disks, the /disks alias, uploads in every form, downloads with ranges, and refusals', async () => {
  const image = Buffer.alloc(512 * 1024, 7);
  const gz = gzipSync(image);
  const asAlice = { auth: ALICE };
  const uploaded = await api.call(pd.create, { ...asAlice, query: { tag: 'gz', type: 'MACHINE_IMAGE_ORIGIN' }, body: gz, headers: { 'content-type': 'application/gzip' } });
  assert.equal(uploaded.status, 201, uploaded.text);
  const origin = uploaded.json() as VolumeInfo;
  const raw = await api.call(pd.create, { ...asAlice, query: { tag: 'raw' }, body: Buffer.alloc(4096, 9), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(raw.status, 201, raw.text);
  const form = new FormData();
  form.append('tag', 'from-a-form');
  form.append('Image File', new Blob([gzipSync(Buffer.alloc(8192, 3))], { type: 'application/x-gzip' }), 'image.img.gz');
  assert.equal((await api.call(pd.create, { ...asAlice, body: form })).status, 201);
  const empty = await api.call(pd.create, { ...asAlice, json: { size: 1, tag: 'json' } });
  assert.equal(empty.status, 201);
  const blank = empty.json() as VolumeInfo;
  assert.equal((await api.call(pd.create, { ...asAlice, form: { size: '1', tag: 'form', visibility: 'public' } })).status, 201);

  assert.equal((await api.call(pd.list, asAlice)).status, 200);
  assert.equal((await api.call(pd.list, { ...asAlice, path: '/disks/' })).status, 200, 'the alias answers the same');
  const one = await api.call(pd.get, { ...asAlice, params: { uuid: origin.uuid } });
  assert.equal((one.json() as VolumeInfo).uuid, origin.uuid);
  const whole = await api.call(pd.get, { ...asAlice, params: { uuid: origin.uuid }, headers: { accept: 'application/x-gzip' } });
  assert.deepEqual([whole.status, whole.body.length], [200, gz.length]);
  const part = await api.call(pd.get, { ...asAlice, params: { uuid: origin.uuid }, query: { media: 'gzip' }, headers: { range: 'bytes=0-9' } });
  assert.deepEqual([part.status, part.body.length], [206, 10]);
  assert.equal((await api.call(pd.get, { ...asAlice, params: { uuid: origin.uuid }, query: { media: 'gzip' }, headers: { range: `bytes=${gz.length + 10}-` } })).status, 416);

  assert.equal((await api.call(pd.update, { ...asAlice, params: { uuid: blank.uuid }, json: { tag: 'renamed' } })).status, 200);
  assert.equal((await api.call(pd.update, { ...asAlice, params: { uuid: blank.uuid }, form: { visibility: 'private' } })).status, 200);
  const copy = await api.call(pd.copy, { ...asAlice, params: { uuid: origin.uuid } });
  assert.equal(copy.status, 201);
  // Rebased, an unchanged snapshot has its origin's content: alice has that already (409), the admin not.
  const snapshot = await api.call(pd.snapshot, { auth: ADMIN, params: { uuid: origin.uuid }, json: {} });
  assert.equal(snapshot.status, 201);
  assert.equal((await api.call(pd.rebase, { auth: ADMIN, params: { uuid: (snapshot.json() as VolumeInfo).uuid }, json: {} })).status, 201);
  const duplicate = await api.call(pd.rebase, { ...asAlice, params: { uuid: (copy.json() as VolumeInfo).uuid }, json: {}, headers: JSON_ACCEPT });
  assert.deepEqual([duplicate.status, errorCode(duplicate)], [409, 'VOLUME_DUPLICATE']);

  const mounted = await api.call(pd.mount, { ...asAlice, params: { uuid: blank.uuid }, form: { node: 'node-1', vm_id: '42' } });
  assert.equal(mounted.status, 201);
  const mountId = (mounted.json() as { id: string }).id;
  assert.equal((await api.call(pd.mounts, { ...asAlice, params: { uuid: blank.uuid } })).status, 200);
  assert.equal((await api.call(pd.mountGet, { ...asAlice, params: { uuid: blank.uuid, mount: mountId } })).status, 200);
  assert.equal((await api.call(pd.unmount, { ...asAlice, params: { uuid: blank.uuid, mount: mountId } })).status, 200);
  assert.equal((await api.call(pd.delete, { ...asAlice, params: { uuid: blank.uuid } })).status, 200);

  // Refusals: the volume service's own words and codes (VOLUME_INVALID), not the schema's.
  const tooBig = await api.call(pd.create, { ...asAlice, json: { size: 0 }, headers: JSON_ACCEPT });
  assert.deepEqual([tooBig.status, errorCode(tooBig)], [400, 'VOLUME_INVALID']);
  const badUuid = await api.call(pd.get, { ...asAlice, params: { uuid: 'not-a-uuid' }, headers: JSON_ACCEPT });
  assert.deepEqual([badUuid.status, errorCode(badUuid)], [400, 'VOLUME_INVALID']);
  assert.equal((await api.call(pd.get, { params: { uuid: origin.uuid }, headers: JSON_ACCEPT })).status, 404, 'a private volume without credentials');
  assert.equal((await api.call(pd.delete, { ...asAlice, params: { uuid: blank.uuid }, headers: JSON_ACCEPT })).status, 404);
  assert.equal((await api.call(pd.mountGet, { ...asAlice, params: { uuid: origin.uuid, mount: 'none' }, headers: JSON_ACCEPT })).status, 404);
  assert.equal((await api.call(pd.snapshot, { ...asAlice, params: { uuid: origin.uuid }, form: { a: '1' }, headers: JSON_ACCEPT })).status, 415, 'snapshot takes JSON only');
  const wrongShape = await api.call(pd.create, { ...asAlice, json: [1, 2], headers: JSON_ACCEPT });
  assert.deepEqual([wrongShape.status, errorCode(wrongShape)], [400, 'USAGE']);
  assert.equal((await api.call(pd.list, { auth: { username: 'alice', password: 'wrong-password' }, headers: JSON_ACCEPT })).status, 401);
});

// --- instances ----------------------------------------------------------------------------------

// Running guests are for the VM tests (test/vm/run-instance.test.ts checks their answers against
// this document too); here every route answers without one, or with a disk that halts at once.
test('instances: the list, and refusals on every route: a bad body, an image that is not there, a vm ID nobody has', async () => {
  const list = await api.call(ins.list, { auth: ALICE, headers: JSON_ACCEPT });
  assert.deepEqual([list.status, list.json()], [200, []]);
  const noFigures = await api.call(ins.run, { auth: ALICE, json: { image: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA' }, headers: JSON_ACCEPT });
  assert.deepEqual([noFigures.status, errorCode(noFigures)], [400, 'USAGE']);
  const absent = await api.call(ins.run, { auth: ALICE, json: { image: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA', cpu: 1, ramMiB: 256 }, headers: JSON_ACCEPT });
  assert.deepEqual([absent.status, errorCode(absent)], [404, 'NO_MATCH']);
  const noVolume = await api.call(ins.run, { auth: ALICE, json: { image: '00000000-0000-4000-8000-000000000000', cpu: 1, ramMiB: 256 }, headers: JSON_ACCEPT });
  assert.deepEqual([noVolume.status, errorCode(noVolume)], [404, 'VOLUME_NOT_FOUND']);
  for (const route of [ins.get, ins.kill, ins.shutdown, ins.console, ins.context, ins.volumes]) {
    const answer = await api.call(route, { auth: ALICE, params: { id: '999' }, headers: JSON_ACCEPT });
    assert.deepEqual([answer.status, errorCode(answer)], [404, 'INSTANCE_NOT_FOUND'], route.name);
  }
  const attachNowhere = await api.call(ins.attach, { auth: ALICE, params: { id: '999' }, json: { uuid: '00000000-0000-4000-8000-000000000000' }, headers: JSON_ACCEPT });
  assert.deepEqual([attachNowhere.status, errorCode(attachNowhere)], [404, 'INSTANCE_NOT_FOUND']);
  const detachNowhere = await api.call(ins.detach, { auth: ALICE, params: { id: '999', uuid: '00000000-0000-4000-8000-000000000000' }, headers: JSON_ACCEPT });
  assert.deepEqual([detachNowhere.status, errorCode(detachNowhere)], [404, 'INSTANCE_NOT_FOUND']);
  const noUuid = await api.call(ins.attach, { auth: ALICE, params: { id: '999' }, json: { volume: 'x' }, headers: JSON_ACCEPT });
  assert.deepEqual([noUuid.status, errorCode(noUuid)], [400, 'USAGE'], 'the body is checked against its schema');
  assert.equal((await api.call(ins.list, { headers: JSON_ACCEPT })).status, 401);
  const after = await api.call(ins.list, { auth: ALICE, headers: JSON_ACCEPT });
  assert.deepEqual(after.json(), [], 'refused runs leave no instance behind');
});

test('instances: volumes of an instance that is not running: none listed, an attach refused with StratusLab\'s message, a detach of what is not attached', async () => {
  // A machine image volume with no boot sector: the run fails in Prolog and leaves a Failed instance.
  const image = await api.call(pd.create, { auth: ALICE, json: { size: 1, type: 'MACHINE_IMAGE_LIVE' }, headers: JSON_ACCEPT });
  const data = await api.call(pd.create, { auth: ALICE, json: { size: 1 }, headers: JSON_ACCEPT });
  const run = await api.call(ins.run, { auth: ALICE, json: { image: (image.json() as VolumeInfo).uuid, cpu: 1, ramMiB: 64 }, headers: JSON_ACCEPT });
  assert.deepEqual([run.status, errorCode(run)], [400, 'IMAGE_NOT_READABLE']);
  const failed = ((await api.call(ins.list, { auth: ALICE, headers: JSON_ACCEPT })).json() as Array<{ id: number; state: string }>).find((i) => i.state === 'Failed');
  assert.ok(failed);
  const id = String(failed.id);
  const uuid = (data.json() as VolumeInfo).uuid;
  assert.deepEqual((await api.call(ins.volumes, { auth: ALICE, params: { id }, headers: JSON_ACCEPT })).json(), []);
  const attach = await api.call(ins.attach, { auth: ALICE, params: { id }, json: { uuid }, headers: JSON_ACCEPT });
  assert.deepEqual([attach.status, errorCode(attach), (attach.json() as Record<string, string>)['409']], [409, 'INSTANCE_STATE', `VM ${id} is not in running state`]);
  const detach = await api.call(ins.detach, { auth: ALICE, params: { id, uuid }, headers: JSON_ACCEPT });
  assert.deepEqual([detach.status, errorCode(detach)], [404, 'VOLUME_NOT_FOUND']);
  const badUuid = await api.call(ins.detach, { auth: ALICE, params: { id, uuid: 'nope' }, headers: JSON_ACCEPT });
  assert.deepEqual([badUuid.status, errorCode(badUuid)], [400, 'VOLUME_INVALID']);
  const notRunning = await api.call(ins.saveLayer, { auth: ALICE, params: { id }, json: { key: 'cd'.repeat(32) }, headers: JSON_ACCEPT });
  assert.deepEqual([notRunning.status, errorCode(notRunning)], [409, 'INSTANCE_STATE']);
});

test('instances: layers of a running instance (its disk halts the CPU at once): saved, read, run from, removed; and refusals', async (t) => {
  const image = await haltOrigin(server.url, ALICE);
  const running: string[] = [];
  t.after(async () => {
    for (const id of running) await api.call(ins.kill, { auth: ALICE, params: { id } });
  });
  const start = async (layer?: string): Promise<string> => {
    const run = await api.call(ins.run, { auth: ALICE, json: { image, cpu: 1, ramMiB: 32, ...(layer ? { layer } : {}) } });
    assert.equal(run.status, 201, run.text);
    const id = String((run.json() as Array<{ id: number }>)[0]?.id);
    running.push(id);
    return id;
  };
  const id = await start();
  const key = 'ab'.repeat(32);
  const saved = await api.call(ins.saveLayer, { auth: ALICE, params: { id }, json: { key } });
  assert.equal(saved.status, 201, saved.text);
  assert.equal((saved.json() as { key: string }).key, key);
  const got = await api.call(ins.layer, { auth: ALICE, params: { key } });
  assert.deepEqual([got.status, (got.json() as { bytes: number }).bytes], [200, (saved.json() as { bytes: number }).bytes]);
  const head = await fetch(`${server.url}${pathOf(ins.layer, { key })}`, { method: 'HEAD', headers: { authorization: `Basic ${Buffer.from(`${ALICE.username}:${ALICE.password}`).toString('base64')}` } });
  assert.equal(head.status, 200);
  await start(key);
  const inUse = await api.call(ins.deleteLayer, { auth: ALICE, params: { key }, headers: JSON_ACCEPT });
  assert.deepEqual([inUse.status, errorCode(inUse)], [409, 'LAYER_IN_USE']);
  for (const vm of running.splice(0)) assert.equal((await api.call(ins.kill, { auth: ALICE, params: { id: vm } })).status, 200);
  assert.equal((await api.call(ins.deleteLayer, { auth: ALICE, params: { key } })).status, 204);

  const gone = await api.call(ins.layer, { auth: ALICE, params: { key }, headers: JSON_ACCEPT });
  assert.deepEqual([gone.status, errorCode(gone)], [404, 'LAYER_NOT_FOUND']);
  assert.equal((await api.call(ins.deleteLayer, { auth: ALICE, params: { key }, headers: JSON_ACCEPT })).status, 404);
  const badKey = await api.call(ins.layer, { auth: ALICE, params: { key: 'not-a-key' }, headers: JSON_ACCEPT });
  assert.deepEqual([badKey.status, errorCode(badKey)], [400, 'LAYER_INVALID']);
  assert.equal((await api.call(ins.deleteLayer, { auth: ALICE, params: { key: 'NOT' }, headers: JSON_ACCEPT })).status, 400);
  const noVm = await api.call(ins.saveLayer, { auth: ALICE, params: { id: '999999' }, json: { key }, headers: JSON_ACCEPT });
  assert.deepEqual([noVm.status, errorCode(noVm)], [404, 'INSTANCE_NOT_FOUND']);
  const noKey = await api.call(ins.saveLayer, { auth: ALICE, params: { id }, json: {}, headers: JSON_ACCEPT });
  assert.deepEqual([noKey.status, errorCode(noKey)], [400, 'USAGE']);
  const noLayer = await api.call(ins.run, { auth: ALICE, json: { image, cpu: 1, ramMiB: 32, layer: key }, headers: JSON_ACCEPT });
  assert.deepEqual([noLayer.status, errorCode(noLayer)], [404, 'LAYER_NOT_FOUND']);
  assert.equal((await api.call(ins.layer, { params: { key }, headers: JSON_ACCEPT })).status, 401);
});

test('every route the server serves is declared in the table (none registered by hand)', () => {
  const declared = new Set(routeTable.map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`));
  const served = Object.entries(api.doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
  assert.deepEqual(served.filter((r) => !declared.has(r)), [], 'routes registered outside src/domain/routes: declare them there and serve them with serve() (src/domain/routes/index.ts says how)');
});

test('every route of the table was called above', () => {
  assert.deepEqual(api.missing().filter((n) => !confirmApi.exercised.has(n)), [], 'routes in src/domain/routes that openapi.test.ts never calls: add a call for each');
});
