import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/storage/database.js';
import { UserStore } from '../../src/storage/users.js';
import type { UserRow } from '../../src/storage/users.js';
import { randomUUID } from 'node:crypto';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import type { VolumeRow } from '../../src/storage/volumes/store.js';
import { isStratusError } from '../../src/domain/errors.js';

function user(username: string, over: Partial<UserRow> = {}): UserRow {
  return { id: `id-of-${username}`, username, password_hash: `hash-of-${username}`, is_admin: 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z', ...over };
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

      assert.deepEqual(await store.remove('bob', 'alice', false), { volumes: 0, mounts: 0 });
      assert.equal(await store.remove('bob', 'alice', false), undefined);
      assert.deepEqual((await store.list()).map((u) => u.username), ['alice']);
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: an account that owns volumes or mounts is removed only with force, which hands everything to the heir`, async () => {
    const db = await open();
    try {
      const store = new UserStore(db);
      const volumes = new VolumeStore(db);
      await store.insert(user('admin', { is_admin: 1 }));
      await store.insert(user('alice'));
      await store.insert(user('bob'));
      const unlimited = { gib: null, volumes: null };
      const vol = (owner: string, over: Partial<VolumeRow> = {}): VolumeRow => ({
        uuid: randomUUID(), owner, tag: '', identifier: '', size_gib: 1, bytes: 1, type: 'MACHINE_IMAGE_ORIGIN', visibility: 'PUBLIC',
        format: 'raw', origin: null, quarantine: '', created: '2026-01-01T00:00:00Z', deleted: null, ...over,
      });
      const bobs = [vol('bob'), vol('bob')];
      for (const v of bobs) await volumes.insertWithinQuota(v, unlimited);
      const alices = vol('alice');
      await volumes.insertWithinQuota(alices, unlimited);
      const mount = { volume: alices.uuid, node: 'n', target: 'vdz', created: '2026-01-01T00:00:00Z', owner: 'bob' };
      await volumes.insertMount(alices.uuid, () => ({ mount: { ...mount, id: `${alices.uuid}_7`, vm_id: '7' } }));
      // Bob's snapshot keeps Alice's deleted origin: a hidden row that is not Alice's to act on.
      const snap = vol('bob', { origin: alices.uuid, format: 'qcow2', type: 'MACHINE_IMAGE_LIVE', identifier: `snapshot:${alices.uuid}` });
      await volumes.insertWithinQuota(snap, unlimited);
      await volumes.removeMount(alices.uuid, `${alices.uuid}_7`, () => true);
      assert.deepEqual(await volumes.remove(alices.uuid, '2026-02-01T00:00:00Z'), []);

      await assert.rejects(store.remove('bob', 'admin', false),
        (e) => isStratusError(e, 'USER_IN_USE') && e.message === 'user bob still owns 3 volumes' && /--force/.test(e.hint));
      assert.ok(await store.get('bob'), 'refused: nothing changed');
      await volumes.insertMount(bobs[0]!.uuid, () => ({ mount: { ...mount, volume: bobs[0]!.uuid, id: `${bobs[0]!.uuid}_8`, vm_id: '8' } }));
      assert.deepEqual(await store.remove('alice', 'admin', false), { volumes: 0, mounts: 0 }, "a deleted origin kept for others' snapshots does not hold its owner back");
      assert.deepEqual(await store.remove('bob', 'admin', true), { volumes: 3, mounts: 1 });
      assert.equal(await store.get('bob'), undefined);

      await store.insert(user('bob', { id: 'another-bob' }));
      await store.insert(user('alice', { id: 'another-alice' }));
      for (const name of ['bob', 'alice']) {
        assert.deepEqual(await volumes.list({ owner: name }), [], `a new ${name} owns no volume`);
        const rows = await db.db.selectFrom('volumes').select('uuid').where('owner', '=', name).execute();
        assert.deepEqual(rows, [], `no row, visible or not, carries the name ${name}`);
        const mounts = await db.db.selectFrom('mounts').select('id').where('owner', '=', name).execute();
        assert.deepEqual(mounts, [], `no mount carries the name ${name}`);
      }
      assert.deepEqual((await volumes.list({ owner: 'admin' })).map((v) => v.uuid).sort(), [...bobs, snap].map((v) => v.uuid).sort());
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
