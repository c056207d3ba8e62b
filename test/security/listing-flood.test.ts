/**
 * Listings after a flood of large entries, against a real `stratus serve`: 530 entries of about
 * 1 MiB, uploaded with no account, made every `GET /metadata` answer `500 Invalid string
 * length`. Entries are now limited in size (64 KiB by default, max_metadata_bytes), XML listings
 * are streamed and paged, and uploads without an account are limited per client address.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { ADMIN, basic, send, startConfiguredServer } from '../helpers/hostile-client.js';
import type { RawAnswer } from '../helpers/hostile-client.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';
import { parseXml } from '../../src/metadata/xml/parse.js';

const LIMIT = 64 * 1024;
const server = await startConfiguredServer('[marketplace]\nanonymous_uploads_per_hour = 5\n');
const base = server.url;
const signer = makeSigner(tempDir(), 'Flood Tester', 'flood.tester@example.org');
const admin = basic(ADMIN);

/** A signed entry of exactly `size` bytes, padded in its description. */
function entryOf(size: number): string {
  const probe = signedXml(signer, draft({ description: '' }));
  const xml = signedXml(signer, draft({ description: 'x'.repeat(size - Buffer.byteLength(probe)) }));
  // The signature value's length can differ by a byte or so between two signings.
  const diff = size - Buffer.byteLength(xml);
  return diff === 0 ? xml : signedXml(signer, draft({ description: 'x'.repeat(size - Buffer.byteLength(probe) + diff) }));
}

function upload(xml: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return send(base, 'POST', '/metadata', { headers: { 'content-type': 'application/xml', ...headers }, body: xml });
}

function documentsIn(xml: string): number {
  const doc = parseXml(xml, { source: 'listing', maxBytes: 512 * 1024 * 1024 });
  let n = 0;
  for (let c = doc.documentElement?.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) n++;
  return n;
}

test('many entries at the size limit: XML and JSON listings still answer 200, paged with Link rel=next', async () => {
  const count = 48;
  const entries = Array.from({ length: count }, () => entryOf(LIMIT));
  assert.equal(Buffer.byteLength(entries[0] as string), LIMIT);
  for (let i = 0; i < count; i += 4) {
    const answers = await Promise.all(entries.slice(i, i + 4).map((x) => upload(x, { authorization: admin })));
    for (const a of answers) assert.equal(a.status, 201, a.text.slice(0, 300));
  }
  const xml = await send(base, 'GET', '/metadata', { headers: { accept: 'application/xml' } });
  assert.equal(xml.status, 200, xml.text.slice(0, 300));
  assert.match(String(xml.headers['content-type']), /^application\/xml/);
  assert.equal(documentsIn(xml.text), count);
  assert.equal(xml.headers.link, undefined, 'everything fits in one default page');
  const json = await send(base, 'GET', '/metadata?media=json', { headers: { accept: 'application/json' } });
  assert.equal(json.status, 200);
  assert.equal((JSON.parse(json.text) as { total: number }).total, count);

  const first = await send(base, 'GET', '/metadata?limit=20', { headers: { accept: 'application/xml' } });
  assert.equal(documentsIn(first.text), 20);
  const next = /^<([^>]+)>; rel="next"$/.exec(String(first.headers.link))?.[1];
  assert.equal(next, '/metadata?limit=20&offset=20');
  const second = await send(base, 'GET', next as string, { headers: { accept: 'application/xml' } });
  assert.equal(documentsIn(second.text), 20);
});

test('an entry over the limit is refused with 413 naming the limit and the setting, however it is sent', async () => {
  const big = entryOf(LIMIT + 1);
  const declared = await upload(big, { authorization: admin });
  assert.equal(declared.status, 413, declared.text.slice(0, 300));
  assert.equal(declared.headers['x-stratus-error'], 'XML_TOO_LARGE');
  assert.match(declared.text, /request body is over the limit of 65536 bytes/);
  assert.match(declared.text, /max_metadata_bytes/);

  // Chunked, with no Content-Length to refuse up front: stopped as it passes the limit.
  const chunked = await new Promise<{ status: number; code: string }>((resolve, reject) => {
    const req = httpRequest(new URL('/metadata', base), { method: 'POST', agent: false, headers: { 'content-type': 'application/xml', 'transfer-encoding': 'chunked', authorization: admin } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, code: String(res.headers['x-stratus-error']) });
    });
    req.on('error', reject);
    for (let i = 0; i < big.length; i += 4096) req.write(big.slice(i, i + 4096));
    req.end();
  });
  assert.deepEqual(chunked, { status: 413, code: 'XML_TOO_LARGE' });

  const B = 'xx-boundary';
  const form = `--${B}\r\nContent-Disposition: form-data; name="Metadata File"; filename="big.xml"\r\n\r\n${big}\r\n--${B}--\r\n`;
  const multipart = await send(base, 'POST', '/metadata', { headers: { 'content-type': `multipart/form-data; boundary=${B}`, authorization: admin }, body: form });
  assert.equal(multipart.status, 413, multipart.text.slice(0, 300));
  assert.equal(multipart.headers['x-stratus-error'], 'XML_TOO_LARGE');
});

test('uploads without an account are limited per client address (429 with Retry-After); with an account they are not', async () => {
  const from = '127.0.7.1';
  for (let i = 0; i < 5; i++) {
    const r = await send(base, 'POST', '/metadata', { headers: { 'content-type': 'application/xml' }, body: signedXml(signer, draft()), localAddress: from });
    assert.equal(r.status, 201, r.text);
  }
  const sixth = await send(base, 'POST', '/metadata', { headers: { 'content-type': 'application/xml' }, body: signedXml(signer, draft()), localAddress: from });
  assert.equal(sixth.status, 429, sixth.text);
  assert.equal(sixth.headers['x-stratus-error'], 'RATE_LIMITED');
  assert.ok(Number(sixth.headers['retry-after']) > 0);
  assert.match(sixth.text, /5 uploads without an account per hour from 127\.0\.7\.1 already/);
  assert.match(sixth.text, /upload with an account/);
  const withAccount = await send(base, 'POST', '/metadata', { headers: { 'content-type': 'application/xml', authorization: admin }, body: signedXml(signer, draft()), localAddress: from });
  assert.equal(withAccount.status, 201, withAccount.text);
  const wrong = await send(base, 'POST', '/metadata', { headers: { 'content-type': 'application/xml', authorization: basic({ username: 'admin', password: 'wrong' }) }, body: signedXml(signer, draft()), localAddress: from });
  assert.equal(wrong.status, 401, 'credentials that are sent must be right');
  const elsewhere = await send(base, 'POST', '/metadata', { headers: { 'content-type': 'application/xml' }, body: signedXml(signer, draft()), localAddress: '127.0.7.2' });
  assert.equal(elsewhere.status, 201, 'other addresses have their own allowance');
  const listing = await send(base, 'POST', '/metadata', { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'iDisplayLength=1&sEcho=3', localAddress: from });
  assert.equal(listing.status, 200, 'the DataTables listing query is not an upload');
});

test('anonymous_uploads_per_hour = 0: uploads need an account', async () => {
  const closed = await startConfiguredServer('[marketplace]\nanonymous_uploads_per_hour = 0\n');
  const anonymous = await send(closed.url, 'POST', '/metadata', { headers: { 'content-type': 'application/xml' }, body: signedXml(signer, draft()) });
  assert.equal(anonymous.status, 401, anonymous.text);
  assert.match(anonymous.text, /this Marketplace takes uploads from accounts only/);
  const withAccount = await send(closed.url, 'POST', '/metadata', { headers: { 'content-type': 'application/xml', authorization: admin }, body: signedXml(signer, draft()) });
  assert.equal(withAccount.status, 201, withAccount.text);
  const read = await send(closed.url, 'GET', '/metadata?media=json', { headers: { accept: 'application/json' } });
  assert.equal(read.status, 200, 'reading needs no account');
});
