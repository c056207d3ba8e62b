import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPostgres } from '../helpers/postgres.js';
import type { PostgresServer } from '../helpers/postgres.js';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { upgradeConformance } from '../conformance/upgrade.js';
import { openPostgres } from '../../src/storage/database.js';
import type { Database } from '../../src/storage/database.js';
import { ENTRY_FIELDS } from '../../src/domain/entry-fields.js';
import type { EntryField } from '../../src/domain/entry-fields.js';
import { entryStoreConformance } from '../conformance/entry-store.js';
import { userStoreConformance } from '../conformance/user-store.js';
import { volumeStoreConformance } from '../conformance/volume-store.js';
import { instanceStoreConformance } from '../conformance/instance-store.js';
import { layerStoreConformance } from '../conformance/layer-store.js';
import { pendingUploadStoreConformance } from '../conformance/pending-upload-store.js';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';

// The scaled-out option runs the same conformance suites as SQLite (sqlite.test.ts), on a real PostgreSQL 15.
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
userStoreConformance('postgres', async () => openPostgres(await freshDatabase()));
volumeStoreConformance('postgres', async () => openPostgres(await freshDatabase()));
instanceStoreConformance('postgres', async () => openPostgres(await freshDatabase()));
layerStoreConformance('postgres', async () => openPostgres(await freshDatabase()));
pendingUploadStoreConformance('postgres', async () => openPostgres(await freshDatabase()));
upgradeConformance('postgres', async () => {
  const url = await freshDatabase();
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) });
  return { db, dialect: 'postgres', reopen: async () => { await db.destroy(); return openPostgres(url); } };
});

test('postgres: the Marketplace API round trip works the same', async () => {
  const { app } = await buildTestApp({ database: await freshDatabase() });
  const signer = makeSigner(tempDir());
  const d = draft({ os: 'Ubuntu' });
  const res = await app.inject({ method: 'POST', url: '/metadata', headers: { 'content-type': 'application/xml' }, payload: signedXml(signer, d) });
  assert.equal(res.statusCode, 201, res.body);
  const list = await app.inject({ method: 'GET', url: '/metadata?os=ubuntu&q=cloud-init&media=json' });
  assert.deepEqual((list.json() as { entries: Array<{ identifier: string }> }).entries.map((e) => e.identifier), [d.identifier]);
});

test('postgres: a field added to the entry schema gets its column, also when two servers open the database at once', async () => {
  const url = await freshDatabase();
  await (await openPostgres(url)).close();
  const licence: EntryField = { name: 'licence', ns: 'dcterms', element: 'license', cardinality: 'one', type: 'text', column: 'licence', label: 'Licence' };
  const fields = [...ENTRY_FIELDS, licence];
  const opened = await Promise.all([openPostgres(url, { entryFields: fields }), openPostgres(url, { entryFields: fields })]);
  try {
    const columns = await sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'entries' AND column_name = 'licence'`.execute((opened[0] as Database).db);
    assert.equal(columns.rows.length, 1);
  } finally {
    await Promise.all(opened.map((d) => d.close()));
  }
});
