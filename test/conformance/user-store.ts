import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/storage/database.js';
import { UserStore } from '../../src/storage/users.js';
import type { UserRow } from '../../src/storage/users.js';

function user(username: string, over: Partial<UserRow> = {}): UserRow {
  return { username, password_hash: `hash-of-${username}`, is_admin: 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z', ...over };
}

/**
 * The user store's conformance suite: every database adapter (SQLite, PostgreSQL) runs it on
 * a fresh database, so accounts behave the same on both.
 */
export function userStoreConformance(adapter: string, open: () => Promise<Database>): void {
  test(`${adapter}: users are inserted once, read, listed by name, updated and removed`, async () => {
    const db = await open();
    try {
      const store = new UserStore(db);
      assert.equal(await store.insert(user('bob', { quota_gib: 10 })), true);
      assert.equal(await store.insert(user('alice', { is_admin: 1 })), true);
      assert.equal(await store.insert(user('alice', { password_hash: 'another' })), false, 'a taken name is refused, not replaced');
      assert.deepEqual(await store.get('alice'), user('alice', { is_admin: 1 }));
      assert.equal(await store.get('nobody'), undefined);
      assert.deepEqual((await store.list()).map((u) => u.username), ['alice', 'bob']);

      assert.equal(await store.update('bob', { password_hash: 'new-hash', quota_gib: null, quota_volumes: 3 }), true);
      assert.deepEqual(await store.get('bob'), user('bob', { password_hash: 'new-hash', quota_volumes: 3 }));
      assert.equal(await store.update('nobody', { password_hash: 'x' }), false);

      assert.equal(await store.remove('bob'), true);
      assert.equal(await store.remove('bob'), false);
      assert.deepEqual((await store.list()).map((u) => u.username), ['alice']);
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: concurrent inserts of one name leave exactly one account`, async () => {
    const db = await open();
    try {
      const store = new UserStore(db);
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.insert(user('carol', { password_hash: `h${i}` }))));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await store.list()).length, 1);
    } finally {
      await db.close();
    }
  });
}
