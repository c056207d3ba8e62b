/**
 * Error answers of a real `stratus serve` over HTTP: an INTERNAL failure shows the client its
 * code and a request id only, with the detail in the server log under that id; unknown enum
 * values in a listing query are refused with the allowed values; the Marketplace client keeps
 * the server's error code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { MarketplaceAnswerError, MarketplaceClient } from '../../src/client/marketplace-client.js';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import { isStratusError } from '../../src/domain/errors.js';
import { startServerProcess } from '../helpers/server.js';
import { draft } from '../helpers/signing.js';
import { buildEntryXml } from '../../src/metadata/entry/build.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('stratus-api-errors-');

test('unknown enum values in a listing query: 400 naming the parameter and its allowed values, in every representation', async () => {
  const server = await startServerProcess(join(dir, 'enums'));
  const cases: Array<[string, string]> = [
    ['status=bogus', 'unknown status=bogus: use one of valid, expired, deprecated, all'],
    ['status=VALID', 'unknown status=VALID: use one of valid, expired, deprecated, all'],
    ['location=ftp', 'unknown location=ftp: use one of all, pdisk, web'],
    ['sort=size', 'unknown sort=size: use one of created, os, os_version, os_arch, email, kind, identifier, title'],
    ['order=up', 'unknown order=up: use one of asc, desc'],
    ['sSortDir_0=down', 'unknown sSortDir_0=down: use one of asc, desc'],
    ['media=yaml', 'unknown media=yaml: use one of xml, json, html, text'],
  ];
  for (const [query, message] of cases) {
    const res = await fetch(`${server.url}/metadata?${query}`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 400, query);
    assert.equal(res.headers.get('x-stratus-error'), 'USAGE', query);
    const body = await res.json() as Record<string, string>;
    assert.equal(body['400'], message, query);
    assert.match(body.hint ?? '', /^Allowed values of \w+: /, query);
  }
  // The same through the other representations and routes that list.
  const xml = await fetch(`${server.url}/metadata/someone@example.org?status=nope`, { headers: { accept: 'application/xml' } });
  assert.equal(xml.status, 400);
  assert.match(await xml.text(), /<error>unknown status=nope: use one of valid, expired, deprecated, all<\/error>/);
  const html = await fetch(`${server.url}/?media=html&status=nope`);
  assert.equal(html.status, 400);
  assert.match(await html.text(), /unknown status=nope: use one of valid, expired, deprecated, all/);
  // Known values still work, StratusLab's location=all included.
  for (const q of ['status=all', 'status=valid', 'status=expired', 'status=deprecated', 'location=all', 'location=pdisk', 'sort=os&order=asc', 'sSortDir_0=desc', 'media=json']) {
    const res = await fetch(`${server.url}/metadata?${q}`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 200, `${q}: ${await res.text()}`);
  }

  // The Marketplace client keeps the server's code (and hint), as the pdisk client does.
  const client = new MarketplaceClient(server.url);
  await assert.rejects(client.list({ status: 'bogus' }), (e: unknown) => {
    assert.ok(e instanceof MarketplaceAnswerError, String(e));
    assert.equal(e.code, 'USAGE');
    assert.equal(e.message, 'listing failed: 400 Bad Request: unknown status=bogus: use one of valid, expired, deprecated, all');
    assert.match(e.hint, /^Allowed values of status: /);
    return true;
  });
  await assert.rejects(client.upload(buildEntryXml(draft())), (e: unknown) => {
    assert.ok(isStratusError(e, 'SIGNATURE_MISSING'), String(e));
    assert.match(e.message, /^Failed to upload: 400 Bad Request: invalid metadata: no signature/);
    return true;
  });
  await assert.rejects(client.listXml({ location: 'ftp' }), (e: unknown) => isStratusError(e, 'USAGE'));
  await assert.rejects(new MarketplaceClient(`${server.url}/nowhere`).endorsers(), (e: unknown) => isStratusError(e, 'ROUTE_NOT_FOUND'));
});

test('INTERNAL: the client gets the code and a request id, never the internal message; the server log has it under that id', async () => {
  const dataDir = join(dir, 'internal');
  const server = await startServerProcess(dataDir);
  // Break the database under the running server: the listing's SQL then fails with a message
  // ("no such table: entries") that names the schema, which must not reach the client.
  const db = new BetterSqlite3(join(dataDir, 'stratus.db'));
  db.exec('ALTER TABLE entries RENAME TO entries_moved');
  db.close();

  const ids = new Set<string>();
  for (const accept of ['application/json', 'application/xml', 'text/html', 'text/plain']) {
    const res = await fetch(`${server.url}/metadata?status=all`, { headers: { accept } });
    const text = await res.text();
    assert.equal(res.status, 500, `${accept}: ${text}`);
    assert.equal(res.headers.get('x-stratus-error'), 'INTERNAL');
    const id = res.headers.get('x-request-id') ?? '';
    assert.match(id, /^[0-9a-f]{16}$/, accept);
    assert.ok(!ids.has(id), 'every request has its own id');
    ids.add(id);
    assert.ok(text.includes(`internal error (request id ${id})`), `${accept}: ${text}`);
    assert.doesNotMatch(text, /no such table|from "?entries|sqlite|select |\/tmp\/|\.js:\d/i, `${accept}: internal detail sent to the client: ${text}`);
    if (accept === 'application/json') {
      const body = JSON.parse(text) as Record<string, string>;
      assert.equal(body.code, 'INTERNAL');
      assert.equal(body.requestId, id);
      assert.match(body.hint ?? '', new RegExp(`Report request id ${id} to the server's operator`));
    }
    // The detail is in the server log, on a line carrying the same id.
    const line = await logLine(server.log, id);
    assert.match(line, /no such table: entries/, `the log line for ${id}: ${line}`);
    assert.equal((JSON.parse(line) as { level: number }).level, 50, 'logged at error level');
  }

  // The Marketplace client shows the code and the id, as the server sent them.
  await assert.rejects(new MarketplaceClient(server.url).list({ status: 'all' }), (e: unknown) => {
    assert.ok(isStratusError(e, 'INTERNAL'), String(e));
    assert.match(e.message, /^listing failed: 500 Internal Server Error: internal error \(request id [0-9a-f]{16}\)$/);
    return true;
  });
  // The server keeps serving what does not need the broken table.
  assert.equal((await fetch(`${server.url}/upload`)).status, 200);
});

/** The log line (JSON) that names request id `id`, waiting a little for it to be written. */
async function logLine(log: () => string, id: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const line = log().split('\n').find((l) => l.includes(`"reqId":"${id}"`));
    if (line) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`no log line for request ${id} in:\n${log()}`);
}

test('a hostile server cannot make the clients build an error with a code outside the catalogue (X-Stratus-Error: constructor, __proto__)', async () => {
  for (const header of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const srv = createServer((_req, res) => {
      res.writeHead(500, { 'x-stratus-error': header, 'content-type': 'text/plain' });
      res.end('broken\n');
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
    try {
      for (const p of [new MarketplaceClient(url).endorsers(), new PdiskClient(url).list()]) {
        await assert.rejects(p, (e: unknown) => {
          assert.ok(isStratusError(e, 'MARKETPLACE_ERROR'), `${header}: ${String((e as { code?: unknown }).code)}`);
          assert.equal(e.status, 502);
          return true;
        });
      }
    } finally {
      await new Promise((resolve) => srv.close(resolve));
    }
  }
});
