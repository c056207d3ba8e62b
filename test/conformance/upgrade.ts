import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Migrator, sql } from 'kysely';
import type { Kysely, Migration } from 'kysely';
import type { Database, DialectName } from '../../src/storage/database.js';
import { migrations } from '../../src/storage/migrations.js';
import { UserStore } from '../../src/storage/users.js';
import { EntryStore } from '../../src/storage/entries.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import { Accounts } from '../../src/accounts/accounts.js';
import { isStratusError } from '../../src/domain/errors.js';

/** A database in the schema of one release: the migrations up to `last` only, as that release ran them. */
export interface OldDatabase {
  db: Kysely<unknown>;
  dialect: DialectName;
  /** Closes the old handle and opens the database the way today's server does (migrating it). */
  reopen(): Promise<Database>;
}

async function migrateTo(old: OldDatabase, last: string): Promise<void> {
  const provider = {
    getMigrations: async (): Promise<Record<string, Migration>> => Object.fromEntries(Object.entries(migrations)
      .filter(([name]) => name <= last).map(([name, m]) => [name, { up: (db: Kysely<unknown>) => m.up(db, old.dialect) }])),
  };
  const { error } = await new Migrator({ db: old.db, provider }).migrateToLatest();
  if (error) throw error;
}

/**
 * An existing database upgrades to the volume-rights schema (0003): its accounts get stable
 * ids, its mounts the owner of their volume, and the global one-volume-per-image rule becomes
 * one per owner. Every adapter runs it.
 */
export function upgradeConformance(adapter: string, makeOld: () => Promise<OldDatabase>): void {
  test(`${adapter}: a database made before volume rights upgrades with its accounts, volumes and mounts`, async () => {
    const old = await makeOld();
    await migrateTo(old, '0002_users_volumes');
    const identifier = 'MMZu9WvwKIro-rtBQfDk4PsKO7_';
    const origin = randomUUID();
    await sql`INSERT INTO users (username, password_hash, is_admin, quota_gib, quota_volumes, created) VALUES
      ('admin', 'x', 1, NULL, NULL, '2025-01-01T00:00:00Z'), ('alice', 'x', 0, NULL, NULL, '2025-01-01T00:00:00Z'), ('bob', 'x', 0, NULL, NULL, '2025-01-01T00:00:00Z')`.execute(old.db);
    await sql`INSERT INTO volumes (uuid, owner, tag, identifier, size_gib, bytes, type, visibility, format, origin, quarantine, created)
      VALUES (${origin}, 'alice', 'old', ${identifier}, 1, 1024, 'MACHINE_IMAGE_ORIGIN', 'PUBLIC', 'raw', NULL, '', '2025-01-01T00:00:00Z')`.execute(old.db);
    await sql`INSERT INTO mounts (id, volume, vm_id, node, target, created) VALUES (${origin + '_7'}, ${origin}, '7', 'node-1', 'vdz', '2025-01-01T00:00:00Z')`.execute(old.db);
    await sql`INSERT INTO entries (identifier, email, created, locations, location_kind, is_latest, uploaded_at, search, xml)
      VALUES (${identifier}, 'old@example.org', '2025-01-01T00:00:00Z', '[]', 'none', 1, '2025-01-01T00:00:00Z', 'old', '<old/>')`.execute(old.db);

    const database = await old.reopen();
    try {
      // Entries stored before drafts existed stay public (migration 0006).
      const listed = await new EntryStore(database).search({ identifier, status: 'all', now: '2026-01-01T00:00:00Z' });
      assert.deepEqual(listed.rows.map((r) => [r.email, r.draft_owner]), [['old@example.org', null]]);
      const users = await new UserStore(database).list();
      assert.equal(users.length, 3);
      assert.ok(users.every((u) => typeof u.id === 'string' && u.id.length >= 32), 'every account got an id');
      assert.equal(new Set(users.map((u) => u.id)).size, 3, 'and they differ');
      const store = new VolumeStore(database);
      assert.deepEqual(await store.get(origin), {
        uuid: origin, owner: 'alice', tag: 'old', identifier, size_gib: 1, bytes: 1024, type: 'MACHINE_IMAGE_ORIGIN', visibility: 'PUBLIC',
        format: 'raw', origin: null, quarantine: '', created: '2025-01-01T00:00:00Z', deleted: null,
      }, 'the volume row is kept whole');
      assert.deepEqual(await store.mounts(origin), [{ id: `${origin}_7`, volume: origin, vm_id: '7', node: 'node-1', target: 'vdz', created: '2025-01-01T00:00:00Z', owner: 'alice' }]);

      const volume = (owner: string) => ({
        uuid: randomUUID(), owner, tag: '', identifier, size_gib: 1, bytes: 1024, type: 'MACHINE_IMAGE_ORIGIN', visibility: 'PRIVATE',
        format: 'raw', origin: null, quarantine: '', created: '2026-01-01T00:00:00Z', deleted: null,
      });
      await store.insertWithinQuota(volume('bob'), { gib: null, volumes: null });
      await assert.rejects(store.insertWithinQuota(volume('alice'), { gib: null, volumes: null }), (e) => isStratusError(e, 'VOLUME_DUPLICATE'));

      // The ids the migration gave are the ones requests now carry.
      const accounts = new Accounts(new UserStore(database));
      await accounts.passwd({ id: '', username: 'admin', admin: true }, 'alice', 'alice-password-1');
      const alice = await accounts.authenticate('alice', 'alice-password-1');
      assert.equal(alice.id, users.find((u) => u.username === 'alice')?.id);
      await assert.rejects(accounts.remove({ id: '', username: 'admin', admin: true }, 'alice'),
        (e) => isStratusError(e, 'USER_IN_USE') && e.message === 'user alice still owns 1 volume and 1 mount');
    } finally {
      await database.close();
    }
  });
}
