import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPostgres } from '../helpers/postgres.js';
import type { PostgresServer } from '../helpers/postgres.js';
import { openPostgres } from '../../src/storage/database.js';
import { entryStoreConformance } from '../../src/storage/conformance.js';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';

// The scaled-out option runs the same conformance suite as SQLite, on a real PostgreSQL 15.
let server: PostgresServer;
let n = 0;
before(async () => {
  server = await startPostgres();
});
after(() => server?.stop());

async function freshDatabase(): Promise<string> {
  const name = `stratus_${process.pid}_${n++}`;
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return server.url.replace(/\/postgres$/, `/${name}`);
}

entryStoreConformance('postgres', async () => openPostgres(await freshDatabase()));

test('postgres: the Marketplace API round trip works the same', async () => {
  const { app } = await buildTestApp({ database: await freshDatabase() });
  const signer = makeSigner(tempDir());
  const d = draft({ os: 'Ubuntu' });
  const res = await app.inject({ method: 'POST', url: '/metadata', headers: { 'content-type': 'application/xml' }, payload: signedXml(signer, d) });
  assert.equal(res.statusCode, 201, res.body);
  const list = await app.inject({ method: 'GET', url: '/metadata?os=ubuntu&q=cloud-init&media=json' });
  assert.deepEqual((list.json() as { entries: Array<{ identifier: string }> }).entries.map((e) => e.identifier), [d.identifier]);
});
