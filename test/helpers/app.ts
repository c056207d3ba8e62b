import { join } from 'node:path';
import { after } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { openDatabase } from '../../src/storage/database.js';
import type { Database } from '../../src/storage/database.js';
import { EntryStore } from '../../src/storage/entries.js';
import { Marketplace } from '../../src/marketplace/marketplace.js';
import type { MarketplaceOptions } from '../../src/marketplace/marketplace.js';
import { buildApp } from '../../src/api/build-app.js';
import type { EntryFields } from '../../src/domain/entry-fields.js';
import { tempDir } from './tmp.js';

export interface TestApp {
  app: FastifyInstance;
  marketplace: Marketplace;
  store: EntryStore;
  database: Database;
}

/** The real API on a real SQLite file (or the database URL given), driven through inject(). */
export async function buildTestApp(options: MarketplaceOptions & { database?: string; entryFields?: EntryFields } = {}): Promise<TestApp> {
  const database = await openDatabase(options.database ?? join(tempDir(), 'stratus.db'), options.entryFields ? { entryFields: options.entryFields } : {});
  const store = new EntryStore(database);
  const marketplace = new Marketplace(store, options);
  const app = await buildApp({ marketplace }, { maxMetadataBytes: options.maxBytes ?? 1024 * 1024 });
  after(async () => {
    await app.close();
    await database.close();
  });
  return { app, marketplace, store, database };
}
