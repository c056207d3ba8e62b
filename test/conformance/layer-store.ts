import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Database } from '../../src/storage/database.js';
import { LayerStore } from '../../src/storage/layers.js';
import type { LayerRow } from '../../src/storage/layers.js';
import { UserStore } from '../../src/storage/users.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import { isStratusError } from '../../src/domain/errors.js';

/**
 * The layer store's conformance suite (the rows of the instance layer cache), on SQLite and on
 * PostgreSQL: one layer per account and key, eviction of the least recently used within the
 * account's cache size, and the layers no one can run any more.
 */
export function layerStoreConformance(adapter: string, open: () => Promise<Database>): void {
  test(`${adapter}: layers are each account's by key; a put replaces the key and evicts the least recently used not in use, or changes nothing`, async () => {
    const db = await open();
    try {
      const store = new LayerStore(db);
      const origin = randomUUID();
      const alice = randomUUID();
      let t = 0;
      const layer = (owner: string, key: string, bytes: number): LayerRow => {
        const at = new Date(Date.UTC(2026, 0, 1, 0, 0, t++)).toISOString();
        return { id: randomUUID(), owner_id: owner, owner: 'alice', key, origin, bytes, created: at, used: at };
      };
      const k = (n: number): string => n.toString(16).padStart(64, '0');
      const a = layer(alice, k(1), 40);
      const b = layer(alice, k(2), 40);
      assert.deepEqual(await store.put(a, 100, new Set()), []);
      assert.deepEqual(await store.put(b, 100, new Set()), []);
      const bob = layer(randomUUID(), k(1), 90);
      assert.deepEqual(await store.put(bob, 100, new Set()), [], 'bob\'s cache is his own');
      await store.touch(a.id, '2026-06-01T00:00:00.000Z');
      const c = layer(alice, k(3), 40);
      assert.deepEqual((await store.put(c, 100, new Set())).map((r) => r.id), [b.id], 'b, the least recently used, goes');
      assert.deepEqual((await store.ofOwner(alice)).map((r) => r.id), [c.id, a.id]);
      const a2 = layer(alice, k(1), 50);
      assert.deepEqual((await store.put(a2, 100, new Set())).map((r) => r.id), [a.id], 'the same key is replaced');
      assert.equal((await store.get(alice, k(1)))?.id, a2.id);
      await assert.rejects(store.put(layer(alice, k(4), 60), 100, new Set([c.id, a2.id])), (e: unknown) => isStratusError(e, 'LAYER_CACHE_FULL'));
      assert.deepEqual((await store.ofOwner(alice)).map((r) => r.id).sort(), [c.id, a2.id].sort(), 'a refused put changes nothing');
      assert.equal((await store.get(bob.owner_id, k(1)))?.id, bob.id);
      assert.equal((await store.remove(c.id))?.id, c.id);
      assert.equal(await store.remove(c.id), undefined);
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: stale layers are those whose account or origin volume is gone`, async () => {
    const db = await open();
    try {
      const store = new LayerStore(db);
      const users = new UserStore(db);
      const volumes = new VolumeStore(db);
      const account = { id: randomUUID(), username: 'dora', password_hash: 'x', is_admin: 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z' };
      await users.insert(account);
      const live = randomUUID();
      const deleted = randomUUID();
      for (const uuid of [live, deleted]) {
        await volumes.insertWithinQuota({ uuid, owner: 'dora', tag: '', identifier: `id-${uuid}`, size_gib: 1, bytes: 1, type: 'MACHINE_IMAGE_ORIGIN', visibility: 'PRIVATE', format: 'raw', origin: null, quarantine: '', created: '2026-01-01T00:00:00Z', deleted: null }, { gib: null, volumes: null });
      }
      await volumes.remove(deleted, '2026-01-02T00:00:00Z');
      const row = (owner: string, origin: string, n: number): LayerRow =>
        ({ id: randomUUID(), owner_id: owner, owner: 'dora', key: n.toString(16).padStart(64, '0'), origin, bytes: 1, created: '2026-01-01T00:00:00Z', used: '2026-01-01T00:00:00Z' });
      const fine = row(account.id, live, 1);
      const noOrigin = row(account.id, deleted, 2);
      const noAccount = row(randomUUID(), live, 3);
      for (const r of [fine, noOrigin, noAccount]) await store.put(r, 100, new Set());
      assert.deepEqual((await store.stale()).map((r) => r.id).sort(), [noOrigin.id, noAccount.id].sort());
    } finally {
      await db.close();
    }
  });
}
