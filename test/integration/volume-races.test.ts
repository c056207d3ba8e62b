/**
 * Races on one volume, on SQLite and on a real PostgreSQL 15: two deletes, a delete against a
 * mount, the deletion of an origin against a snapshot of it or against the deletion of another
 * account's last snapshot of it, and an account's removal against its own volume creation. Each race must end with
 * exactly one winner and a consistent store (rows, mounts, snapshots and files agree). On
 * PostgreSQL the two sides use two connection pools, as two servers sharing the database do;
 * on SQLite they share the one connection a server has (one server per SQLite file).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { isStratusError } from '../../src/domain/errors.js';
import type { ErrorCode } from '../../src/domain/errors.js';
import { openPostgres, openSqlite } from '../../src/storage/database.js';
import type { Database } from '../../src/storage/database.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import { UserStore } from '../../src/storage/users.js';
import { createFileVolumeDriver } from '../../src/storage/volumes/file-driver.js';
import type { VolumeDriver } from '../../src/storage/volumes/driver.js';
import { VolumeService } from '../../src/volumes/service.js';
import { startPostgres } from '../helpers/postgres.js';
import type { PostgresServer } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

const ROUNDS = 12;
const ALICE = { id: randomUUID(), username: 'alice', admin: false };
const BOB = { id: randomUUID(), username: 'bob', admin: false };
const unlimited = { quotaOf: async () => ({ gib: null, volumes: null }) };

let postgres: PostgresServer | undefined;
after(() => postgres?.stop());

interface Sides {
  a: VolumeService;
  b: VolumeService;
  database: Database;
  driver: VolumeDriver;
  close(): Promise<void>;
}

/** Two services over one volumes directory and the databases `open` gives (the same one twice, or two pools). */
async function sides(dir: string, open: () => Promise<[Database, Database]>): Promise<Sides> {
  const [da, db] = await open();
  for (const p of [ALICE, BOB]) await addAccount(da, p);
  const driver = createFileVolumeDriver(dir, { durable: false });
  return {
    a: new VolumeService(new VolumeStore(da), driver, unlimited),
    b: new VolumeService(new VolumeStore(db), createFileVolumeDriver(dir, { durable: false }), unlimited),
    database: da,
    driver,
    close: async () => {
      await da.close();
      if (db !== da) await db.close();
    },
  };
}

async function addAccount(database: Database, p: { id: string; username: string }): Promise<void> {
  await new UserStore(database).insert({ id: p.id, username: p.username, password_hash: 'unused', is_admin: 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z' });
}

type Settled = { ok: true } | { ok: false; code: ErrorCode | 'OTHER'; message: string };

async function settle(p: Promise<unknown>): Promise<Settled> {
  try {
    await p;
    return { ok: true };
  } catch (e) {
    return { ok: false, code: isStratusError(e) ? e.code : 'OTHER', message: (e as Error).message };
  }
}

/** Rows, mounts, snapshots and files agree: nothing refers to a volume that is gone, no file lacks a row. */
async function assertConsistent(s: Sides, when: string): Promise<void> {
  const { db } = s.database;
  const rows = await db.selectFrom('volumes').select(['uuid', 'origin']).execute();
  const uuids = new Set(rows.map((r) => r.uuid));
  for (const m of await db.selectFrom('mounts').select(['id', 'volume']).execute()) {
    assert.ok(uuids.has(m.volume), `${when}: mount ${m.id} of a deleted volume`);
  }
  for (const r of rows) {
    if (r.origin) assert.ok(uuids.has(r.origin), `${when}: snapshot ${r.uuid} of a deleted origin ${r.origin}`);
    assert.ok(await s.driver.exists(r.uuid), `${when}: volume ${r.uuid} has no data`);
  }
  const { volumes, temporary } = await s.driver.inventory();
  for (const u of volumes) assert.ok(uuids.has(u), `${when}: files of ${u} without a row`);
  assert.deepEqual(temporary, [], `${when}: temporary files left`);
}

/** Exactly one side won; the loser failed with one of `codes`. Returns which side won. */
function oneWinner(x: Settled, y: Settled, codes: ErrorCode[], what: string): 'first' | 'second' {
  assert.ok(x.ok !== y.ok, `${what}: ${x.ok && y.ok ? 'both won' : `neither won (${JSON.stringify([x, y])})`}`);
  const loser = (x.ok ? y : x) as Exclude<Settled, { ok: true }>;
  assert.ok((codes as string[]).includes(loser.code), `${what}: the loser failed with ${loser.code}: ${loser.message}`);
  return x.ok ? 'first' : 'second';
}

/** `open` runs in a before() hook: it must not make temporary directories (their after() would run when the hook ends). */
function raceSuite(name: string, open: () => Promise<[Database, Database]>): void {
  const dir = join(tempDir('stratus-races-'), 'volumes');
  describe(`volume races (${name})`, () => {
    let s: Sides;
    before(async () => {
      s = await sides(dir, open);
    });
    after(async () => s?.close());

    it('two deletes of one volume: one deletes it, the other finds it gone', async (t) => {
      for (let i = 0; i < ROUNDS; i++) {
        const v = await s.a.create(ALICE, { size: 1 });
        const [x, y] = await Promise.all([settle(s.a.delete(ALICE, v.uuid)), settle(s.b.delete(ALICE, v.uuid))]);
        oneWinner(x, y, ['VOLUME_NOT_FOUND'], `round ${i}`);
        assert.equal(await new VolumeStore(s.database).get(v.uuid), undefined);
        assert.equal(await s.driver.exists(v.uuid), false);
        await assertConsistent(s, `after two deletes, round ${i}`);
      }
      t.diagnostic(`${ROUNDS} rounds, one winner each`);
    });

    it('a delete against a mount: either the volume is gone and the mount refused, or it stays mounted and the delete refused', async (t) => {
      const wins = { delete: 0, mount: 0 };
      for (let i = 0; i < ROUNDS; i++) {
        const v = await s.a.create(ALICE, { size: 1 });
        // Alternate who starts first, so that both orders get their chance.
        const del = (): Promise<Settled> => settle(s.a.delete(ALICE, v.uuid));
        const mnt = (): Promise<Settled> => settle(s.b.mount(ALICE, v.uuid, { node: 'node-1', vmId: `vm-${i}` }));
        const [x, y] = i % 2 ? await Promise.all([del(), mnt()]) : (await Promise.all([mnt(), del()])).reverse() as [Settled, Settled];
        const winner = oneWinner(x, y, ['VOLUME_NOT_FOUND', 'VOLUME_IN_USE'], `round ${i}`);
        const mounts = await s.database.db.selectFrom('mounts').selectAll().where('volume', '=', v.uuid).execute();
        if (winner === 'first') {
          wins.delete++;
          assert.equal((y as { code: string }).code, 'VOLUME_NOT_FOUND');
          assert.deepEqual(mounts, [], 'no mount of the deleted volume');
          assert.equal(await s.driver.exists(v.uuid), false);
        } else {
          wins.mount++;
          assert.equal((x as { code: string }).code, 'VOLUME_IN_USE');
          assert.equal(mounts.length, 1);
          assert.equal((await s.a.get(ALICE, v.uuid)).count, 1);
          await s.a.unmount(ALICE, v.uuid, `${v.uuid}_vm-${i}`);
          await s.a.delete(ALICE, v.uuid);
        }
        await assertConsistent(s, `after delete against mount, round ${i}`);
      }
      t.diagnostic(`delete won ${wins.delete}, mount won ${wins.mount} of ${ROUNDS}`);
    });

    it('deleting an origin against a snapshot of it: never a snapshot of a deleted origin', async (t) => {
      const wins = { delete: 0, snapshot: 0 };
      for (let i = 0; i < ROUNDS; i++) {
        const origin = await s.a.create(ALICE, { size: 1, type: 'MACHINE_IMAGE_ORIGIN' });
        // A snapshot runs qemu-img, so the delete is held back a little in some rounds to let either win.
        const del = (): Promise<Settled> => new Promise((r) => setTimeout(r, [0, 30, 80, 200][i % 4])).then(() => settle(s.a.delete(ALICE, origin.uuid)));
        const snap = (): Promise<Settled> => settle(s.b.snapshot(ALICE, origin.uuid));
        const [x, y] = i % 2 ? await Promise.all([del(), snap()]) : (await Promise.all([snap(), del()])).reverse() as [Settled, Settled];
        // A snapshot that loses may find the origin's row gone, or (a moment later) its file.
        const winner = oneWinner(x, y, ['VOLUME_NOT_FOUND', 'VOLUME_IN_USE', 'VOLUME_STATE'], `round ${i}`);
        if (winner === 'first') {
          wins.delete++;
        } else {
          wins.snapshot++;
          assert.equal((x as { code: string }).code, 'VOLUME_IN_USE');
          const snaps = await s.database.db.selectFrom('volumes').select('uuid').where('origin', '=', origin.uuid).execute();
          assert.equal(snaps.length, 1);
          await s.a.delete(ALICE, (snaps[0] as { uuid: string }).uuid);
          await s.a.delete(ALICE, origin.uuid);
        }
        await assertConsistent(s, `after delete against snapshot, round ${i}`);
      }
      t.diagnostic(`delete won ${wins.delete}, snapshot won ${wins.snapshot} of ${ROUNDS}`);
    });

    it("deleting an origin against the deletion of another account's last snapshot of it: both succeed and nothing is left", async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const origin = await s.a.create(ALICE, { size: 1, type: 'MACHINE_IMAGE_ORIGIN', visibility: 'PUBLIC' });
        const snap = await s.b.snapshot(BOB, origin.uuid);
        const del = (): Promise<Settled> => settle(s.a.delete(ALICE, origin.uuid));
        const last = (): Promise<Settled> => settle(s.b.delete(BOB, snap.uuid));
        const [x, y] = i % 2 ? await Promise.all([del(), last()]) : (await Promise.all([last(), del()])).reverse() as [Settled, Settled];
        assert.deepEqual([x, y], [{ ok: true }, { ok: true }], `round ${i}`);
        const left = await s.database.db.selectFrom('volumes').select('uuid').where('uuid', 'in', [origin.uuid, snap.uuid]).execute();
        assert.deepEqual(left, [], `round ${i}: neither row is left (no hidden origin without snapshots)`);
        assert.equal(await s.driver.exists(origin.uuid), false, `round ${i}: the origin's bytes are gone`);
        await assertConsistent(s, `after origin against last snapshot, round ${i}`);
      }
    });

    it("removing an account against its own volume creation: the volume is handed over or refused, never left under the old name", async (t) => {
      const wins = { handedOver: 0, refused: 0 };
      const users = new UserStore(s.database);
      for (let i = 0; i < ROUNDS; i++) {
        const carol = { id: randomUUID(), username: 'carol', admin: false };
        await addAccount(s.database, carol);
        const create = (): Promise<Settled> => settle(s.b.create(carol, { size: 1 }));
        // Creating writes the file before the row, so the removal is held back a little in some rounds to let either win.
        const remove = (): Promise<Settled> => new Promise((r) => setTimeout(r, [0, 10, 40, 100][i % 4])).then(() => settle(users.remove('carol', 'admin', true)));
        const [x, y] = i % 2 ? await Promise.all([create(), remove()]) : (await Promise.all([remove(), create()])).reverse() as [Settled, Settled];
        assert.ok(y.ok, `round ${i}: the removal succeeds: ${JSON.stringify(y)}`);
        if (x.ok) wins.handedOver++;
        else {
          assert.equal(x.code, 'AUTH_REQUIRED', `round ${i}: ${x.message}`);
          wins.refused++;
        }
        const carols = await s.database.db.selectFrom('volumes').select('uuid').where('owner', '=', 'carol').execute();
        assert.deepEqual(carols, [], `round ${i}: nothing is left under carol's name`);
        await assertConsistent(s, `after removal against creation, round ${i}`);
      }
      t.diagnostic(`handed over ${wins.handedOver}, refused ${wins.refused} of ${ROUNDS}`);
    });
  });
}

const sqliteFile = join(tempDir(), 'stratus.db');
raceSuite('sqlite', async () => {
  const database = await openSqlite(sqliteFile);
  return [database, database];
});

raceSuite('postgres, two pools', async () => {
  postgres ??= await startPostgres();
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  await client.query('CREATE DATABASE races');
  await client.end();
  const url = postgres.url.replace(/\/postgres$/, '/races');
  const first = await openPostgres(url);
  return [first, await openPostgres(url)];
});
