import { join } from 'node:path';
import { openSqlite } from '../../src/storage/database.js';
import { entryStoreConformance } from '../conformance/entry-store.js';
import { userStoreConformance } from '../conformance/user-store.js';
import { volumeStoreConformance } from '../conformance/volume-store.js';
import { instanceStoreConformance } from '../conformance/instance-store.js';
import { layerStoreConformance } from '../conformance/layer-store.js';
import { pendingUploadStoreConformance } from '../conformance/pending-upload-store.js';
import { upgradeConformance } from '../conformance/upgrade.js';
import { tempDir } from '../helpers/tmp.js';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';

// The default adapter runs every store's conformance suite; postgres.test.ts runs the same ones.
const dir = tempDir();
let n = 0;
const open = () => openSqlite(join(dir, `db${n++}.sqlite`));
entryStoreConformance('sqlite', open);
userStoreConformance('sqlite', open);
volumeStoreConformance('sqlite', open);
instanceStoreConformance('sqlite', open);
layerStoreConformance('sqlite', open);
pendingUploadStoreConformance('sqlite', open);
upgradeConformance('sqlite', async () => {
  const file = join(dir, `old${n++}.sqlite`);
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  return { db, dialect: 'sqlite', reopen: async () => { await db.destroy(); return openSqlite(file); } };
});
