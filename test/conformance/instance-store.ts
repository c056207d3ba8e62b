import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/storage/database.js';
import { InstanceStore } from '../../src/storage/instances.js';
import type { NewInstance } from '../../src/storage/instances.js';

function instance(owner: string, over: Partial<NewInstance> = {}): NewInstance {
  return { owner, owner_id: `id-of-${owner}`, name: `vm-of-${owner}`, image: 'IRei7LKvxoWVRsiiup2cz3-sSsk', cpu: 1, ram_mib: 1536, swap_mib: 1536, ...over };
}

/** The instance store's conformance suite, run on SQLite and on PostgreSQL. */
export function instanceStoreConformance(adapter: string, open: () => Promise<Database>): void {
  test(`${adapter}: instances start Pending with increasing vm IDs, are listed per owner, and Done ones drop out`, async () => {
    const db = await open();
    try {
      const store = new InstanceStore(db, () => new Date('2026-12-06T10:00:00.123Z'));
      const a = await store.create(instance('alice'));
      const b = await store.create(instance('bob'));
      const a2 = await store.create(instance('alice', { name: 'second' }));
      assert.equal(a.state, 'Pending');
      assert.equal(a.created, '2026-12-06T10:00:00Z');
      assert.ok(a.id < b.id && b.id < a2.id, 'increasing ids');
      assert.deepEqual((await store.list({ owner: 'alice' })).map((r) => r.name), ['vm-of-alice', 'second']);
      assert.equal((await store.list()).length, 3, 'the admin sees all');
      assert.deepEqual(await store.get(b.id), b);
      assert.equal(await store.get(999999), undefined);

      await store.transition(a2.id, 'Pending', 'Done');
      assert.deepEqual((await store.list({ owner: 'alice' })).map((r) => r.id), [a.id]);
      assert.equal((await store.list({ owner: 'alice', includeDone: true })).length, 2);

      // A removed row's id is never handed out again (AUTOINCREMENT / a sequence).
      await db.db.deleteFrom('instances').where('id', '=', a2.id).execute();
      const a3 = await store.create(instance('alice'));
      assert.ok(a3.id > a2.id, `${a3.id} > ${a2.id}`);
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: states move only along allowed steps, as a compare-and-set`, async () => {
    const db = await open();
    try {
      const store = new InstanceStore(db);
      const i = await store.create(instance('alice'));
      const prolog = await store.transition(i.id, 'Pending', 'Prolog', { disk: 'd0c2a1e4-0000-4000-8000-000000000001' });
      assert.equal(prolog?.state, 'Prolog');
      assert.equal(prolog?.disk, 'd0c2a1e4-0000-4000-8000-000000000001');
      assert.equal(await store.transition(i.id, 'Pending', 'Prolog'), undefined, 'the state already moved on: no second winner');
      await store.transition(i.id, 'Prolog', 'Boot', { dir: '/var/lib/stratus/instances/1' });
      const running = await store.transition(i.id, 'Boot', 'Running', { address: '10.213.0.10' });
      assert.equal(running?.address, '10.213.0.10');
      assert.deepEqual((await store.live()).map((r) => r.id), [i.id]);
      await assert.rejects(store.transition(i.id, 'Running', 'Boot'), /Running → Boot is not a step/);
      // Kill and shutdown racing: exactly one wins.
      const [kill, shutdown] = await Promise.all([store.transition(i.id, 'Running', 'Done'), store.transition(i.id, 'Running', 'Shutdown')]);
      assert.equal([kill, shutdown].filter(Boolean).length, 1);
      const failed = await store.create(instance('bob'));
      const f = await store.transition(failed.id, 'Pending', 'Failed', { message: 'image IRei… is expired' });
      assert.equal(f?.message, 'image IRei… is expired');
      assert.deepEqual((await store.live()).map((r) => r.id), (kill ? [] : [i.id]), 'Failed and Done hold nothing');
    } finally {
      await db.close();
    }
  });
}
