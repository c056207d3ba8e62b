import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, DialectName } from './database.js';

/** A schema step; it gets the dialect because free-text indexes differ between the two. */
export interface DialectMigration {
  up(db: Kysely<unknown>, dialect: DialectName): Promise<void>;
}

/** Ordered by name; never edit a released migration, add a new one. */
export const migrations: Record<string, DialectMigration> = {
  '0001_entries': {
    async up(db, dialect) {
      const id = dialect === 'postgres' ? 'bigserial' : 'integer';
      await db.schema.createTable('entries')
        .addColumn('id', sql.raw(id), (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('identifier', 'text', (c) => c.notNull())
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('created', 'text', (c) => c.notNull())
        .addColumn('valid', 'text')
        .addColumn('deprecated', 'text')
        .addColumn('os', 'text')
        .addColumn('os_version', 'text')
        .addColumn('os_arch', 'text')
        .addColumn('kind', 'text')
        .addColumn('type', 'text')
        .addColumn('title', 'text')
        .addColumn('description', 'text')
        .addColumn('alternative', 'text')
        .addColumn('creator', 'text')
        .addColumn('version', 'text')
        .addColumn('format', 'text')
        .addColumn('location', 'text')
        .addColumn('locations', 'text', (c) => c.notNull())
        .addColumn('location_kind', 'text', (c) => c.notNull())
        .addColumn('subject', 'text')
        .addColumn('issuer', 'text')
        .addColumn('bytes', 'bigint')
        .addColumn('is_latest', 'integer', (c) => c.notNull())
        .addColumn('uploaded_at', 'text', (c) => c.notNull())
        .addColumn('search', 'text', (c) => c.notNull())
        .addColumn('xml', 'text', (c) => c.notNull())
        .addUniqueConstraint('entries_key', ['identifier', 'email', 'created'])
        .execute();
      await db.schema.createIndex('entries_latest_created').on('entries').columns(['is_latest', 'created']).execute();
      // OS filters are case-insensitive, so the index is on lower(os).
      await db.schema.createIndex('entries_latest_os_email').on('entries').expression(sql`is_latest, lower(os), email, created`).execute();
      await db.schema.createIndex('entries_latest_email').on('entries').columns(['is_latest', 'email', 'created']).execute();
      await db.schema.createIndex('entries_email_alternative').on('entries').columns(['email', 'alternative']).execute();
      if (dialect === 'sqlite') {
        // Trigram FTS answers substring searches from an index instead of scanning every row.
        await sql`CREATE VIRTUAL TABLE entries_fts USING fts5(search, content='entries', content_rowid='id', tokenize='trigram')`.execute(db);
        await sql`CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN INSERT INTO entries_fts(rowid, search) VALUES (new.id, new.search); END`.execute(db);
      } else {
        await sql`CREATE EXTENSION IF NOT EXISTS pg_trgm`.execute(db);
        await sql`CREATE INDEX entries_search_trgm ON entries USING gin (search gin_trgm_ops)`.execute(db);
      }
    },
  },
  '0002_users_volumes': {
    async up(db, dialect) {
      await db.schema.createTable('users')
        .addColumn('username', 'text', (c) => c.primaryKey())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('is_admin', 'integer', (c) => c.notNull())
        .addColumn('quota_gib', 'integer')
        .addColumn('quota_volumes', 'integer')
        .addColumn('created', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createTable('volumes')
        .addColumn('uuid', 'text', (c) => c.primaryKey())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('tag', 'text', (c) => c.notNull())
        .addColumn('identifier', 'text', (c) => c.notNull())
        .addColumn('size_gib', 'integer', (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('visibility', 'text', (c) => c.notNull())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('origin', 'text')
        .addColumn('quarantine', 'text', (c) => c.notNull())
        .addColumn('created', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('volumes_owner').on('volumes').columns(['owner', 'created']).execute();
      await db.schema.createIndex('volumes_origin').on('volumes').column('origin').execute();
      // One volume per image content: a second upload of the same bytes is refused.
      await sql`CREATE UNIQUE INDEX volumes_identifier ON volumes (identifier) WHERE identifier <> '' AND origin IS NULL`.execute(db);
      await db.schema.createTable('mounts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('volume', 'text', (c) => c.notNull().references('volumes.uuid'))
        .addColumn('vm_id', 'text', (c) => c.notNull())
        .addColumn('node', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('created', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('mounts_volume').on('mounts').column('volume').execute();
      void dialect;
    },
  },
  '0003_volume_rights': {
    async up(db, dialect) {
      // A stable id per account; existing accounts get a random one here.
      await db.schema.alterTable('users').addColumn('id', 'text').execute();
      const random = dialect === 'sqlite' ? sql`lower(hex(randomblob(16)))` : sql`md5(random()::text || clock_timestamp()::text || username)`;
      await sql`UPDATE users SET id = ${random}`.execute(db);
      await db.schema.createIndex('users_id').unique().on('users').column('id').execute();
      // Origins deleted by their owner but still read by other accounts' snapshots.
      await db.schema.alterTable('volumes').addColumn('deleted', 'text').execute();
      // Duplicates are refused per owner, in the insert's transaction under the owner's lock:
      // a global unique index told every account that someone held a private image.
      await db.schema.dropIndex('volumes_identifier').execute();
      await db.schema.createIndex('volumes_owner_identifier').on('volumes').columns(['owner', 'identifier']).execute();
      // Who made each mount; the mounts made so far were the owner's business.
      await db.schema.alterTable('mounts').addColumn('owner', 'text', (c) => c.notNull().defaultTo('')).execute();
      await sql`UPDATE mounts SET owner = (SELECT v.owner FROM volumes v WHERE v.uuid = mounts.volume)`.execute(db);
      await db.schema.createIndex('mounts_owner').on('mounts').column('owner').execute();
    },
  },
  '0004_instances': {
    async up(db, dialect) {
      // AUTOINCREMENT (SQLite) and a sequence (PostgreSQL): a vm ID is never handed out twice.
      await db.schema.createTable('instances')
        .addColumn('id', sql.raw(dialect === 'postgres' ? 'bigserial' : 'integer'), (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('image', 'text', (c) => c.notNull())
        .addColumn('disk', 'text')
        .addColumn('cpu', 'integer', (c) => c.notNull())
        .addColumn('ram_mib', 'integer', (c) => c.notNull())
        .addColumn('swap_mib', 'integer', (c) => c.notNull())
        .addColumn('address', 'text')
        .addColumn('dir', 'text')
        .addColumn('created', 'text', (c) => c.notNull())
        .addColumn('updated', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('instances_owner_state').on('instances').columns(['owner', 'state']).execute();
    },
  },
  '0005_instance_spec': {
    async up(db) {
      // What the instance was given (type, context, disks, whether Prolog made its disk), as JSON:
      // describe -vvv and the context route show it, Epilog reads it.
      await db.schema.alterTable('instances').addColumn('spec', 'text').execute();
    },
  },
  '0006_entry_drafts': {
    async up(db) {
      // Drafts signed by the service for a user (the Epilog's): null on every public entry,
      // so entries stored before stay public.
      await db.schema.alterTable('entries').addColumn('draft_owner', 'text').execute();
      await db.schema.createIndex('entries_draft_owner').on('entries').columns(['draft_owner', 'identifier']).execute();
    },
  },
  '0007_layers': {
    async up(db) {
      // The step cache of stratus-create-image: each account's qcow2 layers, by key.
      await db.schema.createTable('layers')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('owner_id', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('origin', 'text', (c) => c.notNull())
        .addColumn('bytes', 'bigint', (c) => c.notNull())
        .addColumn('created', 'text', (c) => c.notNull())
        .addColumn('used', 'text', (c) => c.notNull())
        .addUniqueConstraint('layers_owner_key', ['owner_id', 'key'])
        .execute();
      await db.schema.createIndex('layers_origin').on('layers').column('origin').execute();
    },
  },
  '0008_pending_uploads': {
    async up(db) {
      // Uploads waiting for their endorser's confirmation (validate_email): keyed by the hash
      // of the e-mailed token; one per entry key, a new upload of it replacing the old.
      await db.schema.createTable('pending_uploads')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('identifier', 'text', (c) => c.notNull())
        .addColumn('email', 'text', (c) => c.notNull())
        .addColumn('created', 'text', (c) => c.notNull())
        .addColumn('subject', 'text')
        .addColumn('title', 'text')
        .addColumn('deprecating', 'integer', (c) => c.notNull())
        .addColumn('uploader_id', 'text')
        .addColumn('client', 'text')
        .addColumn('received', 'text', (c) => c.notNull())
        .addColumn('expires', 'text', (c) => c.notNull())
        .addColumn('xml', 'text', (c) => c.notNull())
        .addUniqueConstraint('pending_uploads_key', ['identifier', 'email', 'created'])
        .execute();
      await db.schema.createIndex('pending_uploads_expires').on('pending_uploads').column('expires').execute();
    },
  },
};

/**
 * Adds the column of every field of the entry schema the database lacks, so that a field added
 * to the table (domain/entry-fields.ts) needs no migration of its own. Such columns are
 * nullable (a many-valued field's holds '[]'), and entries stored before keep null there until
 * they are uploaded again: their XML has the value. Renaming or dropping a column still takes
 * a migration above.
 */
export async function addFieldColumns(database: Database): Promise<void> {
  const wanted = database.entryFields.filter((f) => f.column !== undefined);
  if (wanted.length === 0) return;
  const existing = new Set(database.dialect === 'sqlite'
    ? (await sql<{ name: string }>`SELECT name FROM pragma_table_info('entries')`.execute(database.db)).rows.map((r) => r.name)
    : (await sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns WHERE table_name = 'entries' AND table_schema = current_schema()`.execute(database.db)).rows.map((r) => r.name));
  for (const f of wanted) {
    const column = f.column as string;
    if (existing.has(column)) continue;
    if (!/^[a-z][a-z0-9_]*$/.test(column)) throw new Error(`entry field ${f.name}: column name ${column} is not lower_snake_case`);
    const type = f.cardinality === 'many' ? sql.raw(`text NOT NULL DEFAULT '[]'`) : sql.raw(f.type === 'integer' ? 'bigint' : 'text');
    // Two servers opening one PostgreSQL database at once may both get here.
    const ifMissing = sql.raw(database.dialect === 'postgres' ? 'IF NOT EXISTS ' : '');
    await sql`ALTER TABLE entries ADD COLUMN ${ifMissing}${sql.id(column)} ${type}`.execute(database.db);
  }
}
