import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Database } from '../../src/storage/database.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import type { MountRow, VolumeRow } from '../../src/storage/volumes/store.js';
import { UserStore } from '../../src/storage/users.js';
import { isStratusError } from '../../src/domain/errors.js';

const UNLIMITED = { gib: null, volumes: null };

function volume(owner: string, over: Partial<VolumeRow> = {}): VolumeRow {
  return {
    uuid: randomUUID(), owner, tag: '', identifier: '', size_gib: 1, bytes: 1024, type: 'DATA_IMAGE_RAW_READ_WRITE', visibility: 'PRIVATE',
    format: 'raw', origin: null, quarantine: '', created: '2026-01-01T00:00:00Z', deleted: null, ...over,
  };
}

function mountOf(v: VolumeRow, vm: string, over: Partial<MountRow> = {}): MountRow {
  return { id: `${v.uuid}_${vm}`, volume: v.uuid, vm_id: vm, node: 'node-1', target: 'vdb', created: '2026-01-01T00:00:00Z', owner: v.owner, ...over };
}

const NOW = '2026-02-01T00:00:00.000Z';

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

  test(`${adapter}: one origin volume per identifier and owner, also under concurrency; snapshots and data disks are exempt`, async () => {
    const db = await open();
    try {
      const store = new VolumeStore(db);
      const origin = volume('alice', { identifier: 'MMZu9WvwKIro-rtBQfDk4PsKO7_', type: 'MACHINE_IMAGE_ORIGIN' });
      await store.insertWithinQuota(origin, UNLIMITED);
      await assert.rejects(store.insertWithinQuota(volume('alice', { identifier: origin.identifier }), UNLIMITED),
        (e) => isStratusError(e, 'VOLUME_DUPLICATE') && e.message === 'Disk already registered' && e.hint.includes(origin.uuid));
      // Another owner's copy of the same image is a volume of its own: nothing tells Bob that Alice has it.
      const bobs = volume('bob', { identifier: origin.identifier });
      await store.insertWithinQuota(bobs, UNLIMITED);
      const snapshot = volume('alice', { identifier: `snapshot:${origin.uuid}`, origin: origin.uuid, format: 'qcow2' });
      await store.insertWithinQuota(snapshot, UNLIMITED);
      await store.insertWithinQuota(volume('alice'), UNLIMITED);
      await store.insertWithinQuota(volume('alice'), UNLIMITED);
      assert.deepEqual(await store.findByIdentifier('alice', origin.identifier), origin);
      assert.deepEqual(await store.findByIdentifier('bob', origin.identifier), bobs);
      assert.equal(await store.findByIdentifier('carol', origin.identifier), undefined);
      assert.equal((await store.counts([origin.uuid])).snapshots.get(origin.uuid), 1);

      const same = 'Nyuwnr8SOXWilAOWhWTELpytQKS';
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => store.insertWithinQuota(volume('carol', { identifier: same }), UNLIMITED)));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'exactly one of concurrent identical uploads is kept');
      assert.ok(results.every((r) => r.status === 'fulfilled' || isStratusError(r.reason, 'VOLUME_DUPLICATE')));
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: mounts are counted, listed and removed; a volume its owner has mounted is not deleted`, async () => {
    const db = await open();
    try {
      const store = new VolumeStore(db);
      const v = volume('alice');
      await store.insertWithinQuota(v, UNLIMITED);
      const any = (): boolean => true;
      await store.insertMount(v.uuid, () => ({ mount: mountOf(v, 'vm-2', { created: '2026-01-02T00:00:00Z' }) }));
      await store.insertMount(v.uuid, (existing, row) => {
        assert.deepEqual(row, v, 'the chooser sees the locked volume');
        assert.deepEqual(existing.map((m) => m.vm_id), ['vm-2']);
        return { mount: mountOf(v, 'vm-1') };
      });
      await assert.rejects(store.insertMount(v.uuid, () => ({ mount: mountOf(v, 'vm-1', { created: '2026-01-03T00:00:00Z' }) })), 'a mount id is unique');
      await assert.rejects(store.insertMount(randomUUID(), () => ({ mount: mountOf(v, 'vm-3') })), (e) => isStratusError(e, 'VOLUME_NOT_FOUND'), 'a mount needs its volume');
      assert.deepEqual((await store.mounts(v.uuid)).map((m) => m.vm_id), ['vm-1', 'vm-2']);
      assert.equal((await store.counts([v.uuid])).mounts.get(v.uuid), 2);
      assert.equal(await store.removeMount(v.uuid, `${v.uuid}_vm-1`, () => false), undefined, 'refused by the rule: kept');
      assert.deepEqual(await store.removeMount(v.uuid, `${v.uuid}_vm-1`, any), mountOf(v, 'vm-1'));
      assert.equal(await store.removeMount(v.uuid, `${v.uuid}_vm-1`, any), undefined);
      await assert.rejects(store.remove(v.uuid, NOW), (e) => isStratusError(e, 'VOLUME_IN_USE'), 'still mounted once');
      assert.ok(await store.removeMount(v.uuid, `${v.uuid}_vm-2`, any));
      assert.deepEqual(await store.remove(v.uuid, NOW), [v.uuid]);
      assert.equal(await store.get(v.uuid), undefined);
      assert.deepEqual(await store.mounts(v.uuid), []);
      assert.deepEqual(await store.counts([]), { snapshots: new Map(), mounts: new Map() });
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: another account's mount neither blocks the owner's deletion nor survives it; the owner's claim on a VM id replaces it`, async () => {
    const db = await open();
    try {
      const store = new VolumeStore(db);
      const v = volume('alice', { visibility: 'PUBLIC' });
      await store.insertWithinQuota(v, UNLIMITED);
      await store.insertMount(v.uuid, () => ({ mount: mountOf(v, '42', { owner: 'bob' }) }));
      await store.insertMount(v.uuid, (existing) => {
        assert.equal(existing[0]?.owner, 'bob');
        return { mount: mountOf(v, '42', { target: 'vdz' }), replace: true };
      });
      assert.deepEqual((await store.mounts(v.uuid)).map((m) => [m.owner, m.target]), [['alice', 'vdz']]);
      assert.ok(await store.removeMount(v.uuid, `${v.uuid}_42`, () => true));
      await store.insertMount(v.uuid, () => ({ mount: mountOf(v, '43', { owner: 'bob' }) }));
      assert.deepEqual(await store.remove(v.uuid, NOW), [v.uuid]);
      assert.deepEqual(await store.mounts(v.uuid), [], "bob's mount ended with the volume");
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: an origin with others' snapshots is deleted for everyone but kept for them; its last snapshot takes it along`, async () => {
    const db = await open();
    try {
      const store = new VolumeStore(db);
      const origin = volume('alice', { identifier: 'MMZu9WvwKIro-rtBQfDk4PsKO7_', type: 'MACHINE_IMAGE_ORIGIN', visibility: 'PUBLIC', size_gib: 3 });
      await store.insertWithinQuota(origin, UNLIMITED);
      const snap = (owner: string): VolumeRow => volume(owner, { identifier: `snapshot:${origin.uuid}`, origin: origin.uuid, format: 'qcow2', type: 'MACHINE_IMAGE_LIVE' });
      const own = snap('alice');
      const [b1, b2] = [snap('bob'), snap('carol')];
      for (const s of [own, b1, b2]) await store.insertWithinQuota(s, UNLIMITED);
      await assert.rejects(store.remove(origin.uuid, NOW), (e) => isStratusError(e, 'VOLUME_IN_USE') && /has 1 copy-on-write snapshots/.test(e.message), "the owner's own snapshot still counts");
      assert.deepEqual(await store.remove(own.uuid, NOW), [own.uuid]);

      assert.deepEqual(await store.remove(origin.uuid, NOW), [], 'deleted, but the bytes stay for the others');
      assert.equal(await store.get(origin.uuid), undefined);
      assert.ok(!(await store.list()).some((r) => r.uuid === origin.uuid));
      assert.deepEqual(await store.usage('alice'), { n: 0, gib: 0 }, 'no longer counted against her quota');
      assert.equal(await store.findByIdentifier('alice', origin.identifier), undefined);
      await store.insertWithinQuota(volume('alice', { identifier: origin.identifier }), UNLIMITED);
      assert.ok((await store.allUuids()).includes(origin.uuid), 'the reconcile keeps its bytes');
      await assert.rejects(store.remove(origin.uuid, NOW), (e) => isStratusError(e, 'VOLUME_NOT_FOUND'));
      await assert.rejects(store.insertWithinQuota(snap('dave'), UNLIMITED), (e) => isStratusError(e, 'VOLUME_NOT_FOUND'), 'no new snapshot of a deleted origin');
      await assert.rejects(store.insertMount(origin.uuid, () => ({ mount: mountOf(origin, '1') })), (e) => isStratusError(e, 'VOLUME_NOT_FOUND'));
      await store.update(origin.uuid, { visibility: 'PRIVATE' });
      const kept = await db.db.selectFrom('volumes').selectAll().where('uuid', '=', origin.uuid).executeTakeFirstOrThrow();
      assert.deepEqual(kept, { ...origin, deleted: NOW }, 'nothing but the mark changed, and updates do not reach it');

      assert.deepEqual(await store.remove(b1.uuid, NOW), [b1.uuid]);
      assert.deepEqual(await store.remove(b2.uuid, NOW), [b2.uuid, origin.uuid], 'the last snapshot takes the origin along');
      assert.ok(!(await store.allUuids()).includes(origin.uuid));
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: volumes and mounts go in only while the requesting account still exists with the same id`, async () => {
    const db = await open();
    try {
      const store = new VolumeStore(db);
      const users = new UserStore(db);
      const bob = { username: 'bob', id: randomUUID() };
      await users.insert({ id: bob.id, username: 'bob', password_hash: 'h', is_admin: 0, quota_gib: null, quota_volumes: null, created: NOW });
      const v = volume('bob');
      await store.insertWithinQuota(v, UNLIMITED, bob);
      await store.insertMount(v.uuid, () => ({ mount: mountOf(v, '1') }), bob);
      assert.deepEqual(await users.remove('bob', 'admin', true), { volumes: 1, mounts: 1 });
      // A new bob, and a request the old bob started before his account was removed.
      await users.insert({ id: randomUUID(), username: 'bob', password_hash: 'h2', is_admin: 0, quota_gib: null, quota_volumes: null, created: NOW });
      const late = volume('bob');
      await assert.rejects(store.insertWithinQuota(late, UNLIMITED, bob), (e) => isStratusError(e, 'AUTH_REQUIRED') && /was removed while this request ran/.test(e.message));
      await assert.rejects(store.insertMount(v.uuid, () => ({ mount: mountOf(v, '2', { owner: 'bob' }) }), bob), (e) => isStratusError(e, 'AUTH_REQUIRED'));
      assert.equal(await store.get(late.uuid), undefined);
      assert.deepEqual(await store.list({ owner: 'bob' }), [], 'the new bob owns nothing');
      assert.deepEqual((await store.mounts(v.uuid)).map((m) => m.owner), ['admin']);
    } finally {
      await db.close();
    }
  });
}
