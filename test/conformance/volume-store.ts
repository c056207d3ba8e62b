import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Database } from '../../src/storage/database.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import type { VolumeRow } from '../../src/storage/volumes/store.js';
import { isStratusError } from '../../src/domain/errors.js';

const UNLIMITED = { gib: null, volumes: null };

function volume(owner: string, over: Partial<VolumeRow> = {}): VolumeRow {
  return {
    uuid: randomUUID(), owner, tag: '', identifier: '', size_gib: 1, bytes: 1024, type: 'DATA_IMAGE_RAW_READ_WRITE', visibility: 'PRIVATE',
    format: 'raw', origin: null, quarantine: '', created: '2026-01-01T00:00:00Z', ...over,
  };
}

/**
 * The volume store's conformance suite (volumes and their mounts): every database adapter
 * runs it on a fresh database, so quotas, duplicates and listings behave the same on both.
 */
export function volumeStoreConformance(adapter: string, open: () => Promise<Database>): void {
  test(`${adapter}: volumes are listed newest first, with PUBLIC ones of others on request`, async () => {
    const db = await open();
    try {
      const store = new VolumeStore(db);
      const a1 = volume('alice', { created: '2026-01-01T00:00:00Z' });
      const a2 = volume('alice', { created: '2026-01-03T00:00:00Z', tag: 'newer' });
      const b1 = volume('bob', { created: '2026-01-02T00:00:00Z', visibility: 'PUBLIC' });
      const b2 = volume('bob', { created: '2026-01-04T00:00:00Z' });
      for (const v of [a1, a2, b1, b2]) await store.insertWithinQuota(v, UNLIMITED);
      const uuids = (rows: VolumeRow[]): string[] => rows.map((r) => r.uuid);
      assert.deepEqual(uuids(await store.list()), [b2.uuid, a2.uuid, b1.uuid, a1.uuid]);
      assert.deepEqual(uuids(await store.list({ owner: 'alice' })), [a2.uuid, a1.uuid]);
      assert.deepEqual(uuids(await store.list({ owner: 'alice', withPublic: true })), [a2.uuid, b1.uuid, a1.uuid]);
      assert.deepEqual(await store.get(a2.uuid), a2);
      assert.equal(await store.get(randomUUID()), undefined);
      assert.deepEqual((await store.allUuids()).sort(), [a1.uuid, a2.uuid, b1.uuid, b2.uuid].sort());

      await store.update(a1.uuid, { tag: 'renamed', visibility: 'PUBLIC' });
      assert.deepEqual(await store.get(a1.uuid), { ...a1, tag: 'renamed', visibility: 'PUBLIC' });
      assert.deepEqual(await store.usage('alice'), { n: 2, gib: 2 });
      assert.deepEqual(await store.usage('nobody'), { n: 0, gib: 0 });
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: quotas on count and GiB are checked in the insert, also under concurrency`, async () => {
    const db = await open();
    try {
      const store = new VolumeStore(db);
      await store.insertWithinQuota(volume('alice', { size_gib: 4 }), { gib: 5, volumes: null });
      await assert.rejects(store.insertWithinQuota(volume('alice', { size_gib: 2 }), { gib: 5, volumes: null }),
        (e) => isStratusError(e, 'QUOTA_EXCEEDED') && /uses 4 GiB; 2 GiB more would pass the limit of 5 GiB/.test(e.message));
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.insertWithinQuota(volume('bob'), { gib: null, volumes: 3 })));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 3);
      assert.ok(results.every((r) => r.status === 'fulfilled' || isStratusError(r.reason, 'QUOTA_EXCEEDED')));
      assert.deepEqual(await store.usage('bob'), { n: 3, gib: 3 });
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: one origin volume per identifier; snapshots and data disks are exempt`, async () => {
    const db = await open();
    try {
      const store = new VolumeStore(db);
      const origin = volume('alice', { identifier: 'MMZu9WvwKIro-rtBQfDk4PsKO7_', type: 'MACHINE_IMAGE_ORIGIN' });
      await store.insertWithinQuota(origin, UNLIMITED);
      await assert.rejects(store.insertWithinQuota(volume('bob', { identifier: origin.identifier }), UNLIMITED), (e) => isStratusError(e, 'VOLUME_DUPLICATE'));
      const snapshot = volume('alice', { identifier: `snapshot:${origin.uuid}`, origin: origin.uuid, format: 'qcow2' });
      await store.insertWithinQuota(snapshot, UNLIMITED);
      await store.insertWithinQuota(volume('alice'), UNLIMITED);
      await store.insertWithinQuota(volume('alice'), UNLIMITED);
      assert.deepEqual(await store.findByIdentifier(origin.identifier), origin);
      assert.equal((await store.counts([origin.uuid])).snapshots.get(origin.uuid), 1);
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: mounts are counted, listed and removed; a mounted volume is not deleted`, async () => {
    const db = await open();
    try {
      const store = new VolumeStore(db);
      const v = volume('alice');
      await store.insertWithinQuota(v, UNLIMITED);
      const mount = (vm: string, created: string) => ({ id: `${v.uuid}_${vm}`, volume: v.uuid, vm_id: vm, node: 'node-1', target: 'vdb', created });
      await store.insertMount(v.uuid, () => mount('vm-2', '2026-01-02T00:00:00Z'));
      await store.insertMount(v.uuid, () => mount('vm-1', '2026-01-01T00:00:00Z'));
      await assert.rejects(store.insertMount(v.uuid, () => mount('vm-1', '2026-01-03T00:00:00Z')), 'a mount id is unique');
      await assert.rejects(store.insertMount(randomUUID(), () => mount('vm-3', '2026-01-03T00:00:00Z')), (e) => isStratusError(e, 'VOLUME_NOT_FOUND'), 'a mount needs its volume');
      assert.deepEqual((await store.mounts(v.uuid)).map((m) => m.vm_id), ['vm-1', 'vm-2']);
      assert.equal((await store.counts([v.uuid])).mounts.get(v.uuid), 2);
      assert.equal(await store.removeMount(`${v.uuid}_vm-1`), true);
      assert.equal(await store.removeMount(`${v.uuid}_vm-1`), false);
      await assert.rejects(store.removeUnused(v.uuid), (e) => isStratusError(e, 'VOLUME_IN_USE'), 'still mounted once');
      assert.equal(await store.removeMount(`${v.uuid}_vm-2`), true);
      await store.removeUnused(v.uuid);
      assert.equal(await store.get(v.uuid), undefined);
      assert.deepEqual(await store.mounts(v.uuid), []);
      assert.deepEqual(await store.counts([]), { snapshots: new Map(), mounts: new Map() });
    } finally {
      await db.close();
    }
  });
}
