import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { fixturePath } from '../helpers/paths.js';
import type { EntryListing } from '../../src/domain/wire.js';

const dir = tempDir();
const alice = makeSigner(dir, 'Alice Example', 'alice@example.org');
const bob = makeSigner(dir, 'Bob Example', 'bob@example.org');
const t0 = new Date('2026-01-10T10:00:00Z');
const later = (s: number) => new Date(t0.getTime() + s * 1000);
const xmlHeaders = { 'content-type': 'application/xml', accept: 'application/xml' };

async function json(app: Awaited<ReturnType<typeof buildTestApp>>['app'], url: string): Promise<EntryListing> {
  const res = await app.inject({ method: 'GET', url, headers: { accept: 'application/json' } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as EntryListing;
}

test('round trip over HTTP: upload, find by os / endorser / text, deprecate, full path still answers', async () => {
  const { app } = await buildTestApp({ clock: () => later(60) });
  const debian = draft({ os: 'Debian', title: 'debian-12-base', description: 'Minimal Debian with cloud-init' }, t0);
  const centos = draft({ os: 'CentOS', osVersion: '6.5', title: 'centos-6-base', description: 'CentOS with httpd' }, t0);

  for (const [signer, d] of [[alice, debian], [bob, centos]] as const) {
    const res = await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: signedXml(signer, d, { now: t0 }) });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.body, 'metadata entry created\n');
    assert.match(res.headers.location as string, new RegExp(`/metadata/${d.identifier}/${signer.email}/2026-01-10T10:00:00Z$`));
  }

  assert.deepEqual((await json(app, '/metadata?os=debian')).entries.map((e) => e.identifier), [debian.identifier]);
  assert.deepEqual((await json(app, '/metadata?endorser=bob@example.org')).entries.map((e) => e.identifier), [centos.identifier]);
  assert.deepEqual((await json(app, `/metadata/${'bob@example.org'}`)).entries.map((e) => e.identifier), [centos.identifier]);
  assert.deepEqual((await json(app, '/metadata?q=httpd')).entries.map((e) => e.identifier), [centos.identifier]);
  assert.deepEqual((await json(app, '/metadata?q=cloud%20minimal')).entries.map((e) => e.identifier), [debian.identifier]);
  assert.deepEqual((await json(app, '/metadata?q=cloud%20httpd')).entries, []);
  assert.deepEqual((await json(app, '/metadata?os=debian&endorser=alice@example.org')).entries.map((e) => e.identifier), [debian.identifier]);
  assert.equal((await json(app, '/metadata')).total, 2);

  // Deprecate: a newer signed entry for the same image and endorser, carrying a reason.
  const deprecated = signedXml(alice, { ...debian, deprecated: 'superseded by 1.1' }, { now: later(30) });
  const dep = await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: deprecated });
  assert.equal(dep.statusCode, 201, dep.body);

  const visible = await json(app, '/metadata');
  assert.deepEqual(visible.entries.map((e) => e.identifier), [centos.identifier], 'the default listing hides the deprecated image');
  const xmlList = await app.inject({ method: 'GET', url: `/metadata/${debian.identifier}`, headers: { accept: 'application/xml' } });
  assert.equal(xmlList.statusCode, 404);
  assert.match(xmlList.body, /<error>no metadata matching query found<\/error>/);
  assert.deepEqual((await json(app, '/metadata?status=deprecated')).entries.map((e) => [e.identifier, e.deprecated]), [[debian.identifier, 'superseded by 1.1']]);

  for (const created of ['2026-01-10T10:00:00Z', '2026-01-10T10:00:30Z']) {
    const one = await app.inject({ method: 'GET', url: `/metadata/${debian.identifier}/alice@example.org/${created}`, headers: { accept: 'application/xml' } });
    assert.equal(one.statusCode, 200, `full path ${created} still answers`);
    assert.match(one.headers['content-type'] as string, /^application\/rdf\+xml/);
    assert.match(one.headers['content-disposition'] as string, new RegExp(`filename=${debian.identifier}.xml`));
    assert.match(one.body, /<Signature xmlns="http:\/\/www.w3.org\/2000\/09\/xmldsig#">/);
  }
});

test('latest-entry rules: older uploads are refused, equal timestamps and re-sends are accepted, nothing is deleted', async () => {
  const { app, store } = await buildTestApp({ clock: () => later(600) });
  const d = draft({}, t0);
  const newer = signedXml(alice, d, { now: later(20) });
  const older = signedXml(alice, d, { now: later(10) });
  assert.equal((await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: newer })).statusCode, 201);
  const refused = await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: older });
  assert.equal(refused.statusCode, 400);
  assert.match(refused.body, /<error>invalid metadata: older than latest entry<\/error>/);
  const again = await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: newer });
  assert.equal(again.statusCode, 200, 'sending the same document twice is idempotent');
  // Another endorser has a timeline of its own: an older date is fine for bob.
  assert.equal((await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: signedXml(bob, d, { now: later(5) }) })).statusCode, 201);
  const both = await json(app, `/metadata/${d.identifier}`);
  assert.deepEqual(both.entries.map((e) => e.email).sort(), ['alice@example.org', 'bob@example.org']);
  assert.equal(await store.count(), 2);
});

test('status filters: expired entries hide by default and show with status=expired; no valid date shows only with status=all', async () => {
  const { app } = await buildTestApp({ clock: () => new Date('2027-01-01T00:00:00Z') });
  const expired = draft({ valid: '2026-06-01T00:00:00Z' }, t0);
  const current = draft({ valid: '2028-01-01T00:00:00Z' }, t0);
  const noValid = draft({ valid: '' }, t0);
  for (const d of [expired, current, noValid]) {
    assert.equal((await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: signedXml(alice, d, { now: t0 }) })).statusCode, 201);
  }
  assert.deepEqual((await json(app, '/metadata')).entries.map((e) => e.identifier), [current.identifier]);
  assert.deepEqual((await json(app, '/metadata?status=expired')).entries.map((e) => e.identifier), [expired.identifier]);
  assert.equal((await json(app, '/metadata?status=all')).total, 3);
});

test('location filter: pdisk entries are the private ones, web entries have http(s)/ftp or no location', async () => {
  const { app } = await buildTestApp({ clock: () => later(60) });
  const web = draft({ locations: ['https://example.org/a.img.gz'] }, t0);
  const pdisk = draft({ locations: ['pdisk:127.0.0.1:9204:2b2d4b5e-0f0a-4d7c-9a55-6d0f3c2d1e10'] }, t0);
  for (const d of [web, pdisk]) await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: signedXml(alice, d, { now: t0 }) });
  assert.deepEqual((await json(app, '/metadata?location=pdisk')).entries.map((e) => e.identifier), [pdisk.identifier]);
  assert.deepEqual((await json(app, '/metadata?location=web')).entries.map((e) => e.identifier), [web.identifier]);
});

test('paging and sorting, in both the friendly and the DataTables parameters', async () => {
  const { app } = await buildTestApp({ clock: () => later(3600) });
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) {
    const d = draft({ os: `os${i}` }, t0);
    ids.push(d.identifier);
    await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: signedXml(alice, d, { now: later(i) }) });
  }
  const page = await json(app, '/metadata?limit=3&offset=2&sort=created&order=asc');
  assert.equal(page.total, 7);
  assert.deepEqual(page.entries.map((e) => e.identifier), ids.slice(2, 5));
  const dt = await json(app, '/metadata?iDisplayStart=0&iDisplayLength=2&iSortCol_0=6&sSortDir_0=desc&sEcho=4');
  assert.equal(dt.sEcho, 4);
  assert.deepEqual(dt.entries.map((e) => e.identifier), [ids[6], ids[5]]);
  assert.equal(dt.aaData[0]?.[7], ids[6]);
  assert.equal(dt.aaData[0]?.[1], 'os6');
  const posted = await app.inject({ method: 'POST', url: '/metadata', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'iDisplayStart=0&iDisplayLength=1&sSearch=os3&sEcho=9' });
  assert.equal(posted.statusCode, 200);
  assert.deepEqual((posted.json() as EntryListing).entries.map((e) => e.identifier), [ids[3]]);
});

test('content negotiation: XML by default, JSON and HTML by Accept or ?media=', async () => {
  const { app } = await buildTestApp({ clock: () => later(60) });
  const d = draft({}, t0);
  await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: signedXml(alice, d, { now: t0 }) });
  const path = `/metadata/${d.identifier}/alice@example.org/2026-01-10T10:00:00Z`;
  const xml = await app.inject({ method: 'GET', url: '/metadata' });
  assert.match(xml.headers['content-type'] as string, /application\/xml/);
  assert.match(xml.body, /^<\?xml version="1.0" encoding="UTF-8" standalone="no"\?><metadata><rdf:RDF/);
  const js = await app.inject({ method: 'GET', url: `${path}?media=json` });
  assert.match(js.headers['content-type'] as string, /application\/json/);
  const detail = js.json() as { signature: { valid: boolean }; checksums: unknown[] };
  assert.equal(detail.signature.valid, true);
  assert.equal(detail.checksums.length, 1);
  const html = await app.inject({ method: 'GET', url: path, headers: { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8' } });
  assert.match(html.headers['content-type'] as string, /text\/html/);
  assert.match(html.body, /Signature valid/);
  const err = await app.inject({ method: 'GET', url: `/metadata/${d.identifier}/alice@example.org/2020-01-01T00:00:00Z`, headers: { accept: 'application/json' } });
  assert.equal(err.statusCode, 404);
  assert.equal((err.json() as Record<string, string>)['404'], 'metadata entry not found.');
});

test('tags route to the newest non-deprecated entry; endorsers list who endorsed what', async () => {
  const { app } = await buildTestApp({ clock: () => later(600) });
  const v1 = draft({ alternative: 'debian-12' }, t0);
  const v2 = draft({ alternative: 'debian-12' }, t0);
  await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: signedXml(alice, v1, { now: later(1) }) });
  await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: signedXml(alice, v2, { now: later(2) }) });
  await app.inject({ method: 'POST', url: '/metadata', headers: xmlHeaders, payload: signedXml(alice, { ...v2, deprecated: 'broken' }, { now: later(3) }) });
  const tagged = await app.inject({ method: 'GET', url: '/tag/alice@example.org/debian-12?media=json' });
  assert.equal(tagged.statusCode, 200, tagged.body);
  assert.equal((tagged.json() as { identifier: string }).identifier, v1.identifier);
  const tags = await app.inject({ method: 'GET', url: '/endorsers/alice@example.org/tags?media=json' });
  assert.deepEqual((tags.json() as { tags: string[] }).tags, ['debian-12']);
  const endorsers = await app.inject({ method: 'GET', url: '/endorsers', headers: { accept: 'application/xml' } });
  assert.match(endorsers.body, /<binding name="email"><literal>alice@example.org<\/literal><\/binding>/);
  assert.match(endorsers.body, /CN=Alice Example,OU=Testing Department,O=StratusLab Project,C=EU/);
});

test('uploads that fail validation get 400 "invalid metadata: <reason>" and store nothing', async () => {
  const { app, store } = await buildTestApp({ clock: () => later(60) });
  const cases: Array<[string, string, RegExp]> = [
    ['unsigned', readFileSync(fixturePath('stratuslab-metadata', 'valid-minimal.xml'), 'utf8'), /^invalid metadata: no signature/],
    ['tampered', signedXml(alice, draft({}, t0), { now: t0 }).replace('debian-12-base', 'debian-12-bas3'), /^invalid metadata: signature validation: truecontent \(ref=''\) validity: false/],
    ['endorser block edited before signing is re-filled, so edit after', signedXml(alice, draft({}, t0), { now: t0 }).replace('<email>alice@example.org</email>', '<email>mallory@example.org</email>'), /^invalid metadata: signature validation/],
    ['garbage', 'this is not xml', /^unable to parse metadata/],
    ['empty', '', /empty/],
  ];
  for (const [why, body, expected] of cases) {
    const res = await app.inject({ method: 'POST', url: '/metadata', headers: { 'content-type': 'application/xml', accept: 'text/plain' }, payload: body });
    assert.equal(res.statusCode, 400, `${why}: ${res.body}`);
    assert.match(res.body, expected, why);
  }
  assert.equal(await store.count(), 0);
});

test('multipart browser upload takes the first file part', async () => {
  const { app } = await buildTestApp({ clock: () => later(60) });
  const xml = signedXml(alice, draft({}, t0), { now: t0 });
  const boundary = '----stratus' + Date.now();
  const payload = `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--${boundary}\r\nContent-Disposition: form-data; name="Metadata File"; filename="entry.xml"\r\nContent-Type: application/xml\r\n\r\n${xml}\r\n--${boundary}--\r\n`;
  const res = await app.inject({ method: 'POST', url: '/metadata', headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, accept: 'text/html' }, payload });
  assert.equal(res.statusCode, 201, res.body);
  assert.match(res.body, /Metadata entry created/);
});
