/**
 * The rules of volumes on instances (volumes/instance-disks.ts), on a real SQLite database and
 * volume store, and the one that must hold under concurrency (a volume attached read-write is
 * in one VM) also on a real PostgreSQL 15 with two pools, as two servers sharing it. The QEMU
 * side is proved by the VM tests (test/vm/attach-volume*.test.ts).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { isStratusError } from '../../src/domain/errors.js';
import type { Principal } from '../../src/accounts/accounts.js';
import { openPostgres, openSqlite } from '../../src/storage/database.js';
import type { Database } from '../../src/storage/database.js';
import { UserStore } from '../../src/storage/users.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import { createFileVolumeDriver } from '../../src/storage/volumes/file-driver.js';
import { VolumeService } from '../../src/volumes/service.js';
import { InstanceDisks } from '../../src/volumes/instance-disks.js';
import { startPostgres } from '../helpers/postgres.js';
import type { PostgresServer } from '../helpers/postgres.js';
import { tempDir } from '../helpers/tmp.js';

const unlimited = { quotaOf: async () => ({ gib: null, volumes: null }) };
const person = (username: string, admin = false): Principal => ({ id: randomUUID(), username, admin });
const [ALICE, BOB, CAROL, DAVE] = ['alice', 'bob', 'carol', 'dave'].map((n) => person(n)) as [Principal, Principal, Principal, Principal];
const ADMIN = person('admin', true);

let postgres: PostgresServer | undefined;
after(() => postgres?.stop());

interface World {
  database: Database;
  volumes: VolumeService;
  disks: InstanceDisks;
}

async function world(database: Database, dir: string): Promise<World> {
  for (const p of [ALICE, BOB, CAROL, DAVE, ADMIN]) {
    await new UserStore(database).insert({ id: p.id, username: p.username, password_hash: 'unused', is_admin: p.admin ? 1 : 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z' });
  }
  const driver = createFileVolumeDriver(dir, { durable: false });
  const store = new VolumeStore(database);
  return { database, volumes: new VolumeService(store, driver, unlimited), disks: new InstanceDisks(store, driver, unlimited, 'admin') };
}

/** The error code and message `p` fails with. */
async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string; hint: string }> {
  try {
    await p;
  } catch (e) {
    if (isStratusError(e)) return { code: e.code, message: e.message, hint: e.hint };
    throw e;
  }
  assert.fail('it was not refused');
}

const dir = tempDir('stratus-attachments-');
const w = await world(await openSqlite(join(dir, 'stratus.db')), join(dir, 'volumes'));
after(() => w.database.close());
const volume = async (owner: Principal, fields: { visibility?: string; type?: string } = {}): Promise<string> => (await w.volumes.create(owner, { size: 1, ...fields })).uuid;
const count = async (uuid: string): Promise<number> => (await w.volumes.get(ADMIN, uuid)).count;

describe('volume attachments (SQLite)', () => {
  it("the owner's read-write volume is in one VM at a time: a second VM gets Disk not available until it is detached", async () => {
    const v = await volume(ALICE);
    const first = await w.disks.attach(ALICE, v, '1');
    assert.deepEqual([first.mount.target, first.readOnly, first.mount.node], ['vdz', false, 'localhost']);
    const second = await refusal(w.disks.attach(ALICE, v, '2'));
    assert.deepEqual([second.code, second.message], ['VOLUME_IN_USE', `DISK ${v}: Disk not available`]);
    assert.match(second.hint, /attached read-write to VM 1/);
    assert.equal((await w.disks.room(ALICE, (await w.disks.attachable(ALICE, v)).volume)).free, 0, 'run-instance --persistent-disk sees no room either');
    assert.equal((await w.disks.detach(v, '1', 'alice'))?.target, 'vdz');
    assert.equal((await w.disks.attach(ALICE, v, '2')).readOnly, false);
    assert.equal(await count(v), 1);
  });

  it("a PUBLIC volume is read-only to others, who share it; its owner's read-write attachment is not held back by them, and then nobody else attaches it", async () => {
    const v = await volume(ALICE, { visibility: 'public' });
    assert.equal((await w.disks.attach(BOB, v, '11')).readOnly, true);
    assert.equal((await w.disks.attach(CAROL, v, '12')).readOnly, true);
    assert.equal((await w.disks.attach(ALICE, v, '1')).readOnly, false, 'what others do with a PUBLIC volume never binds its owner');
    const late = await refusal(w.disks.attach(DAVE, v, '13'));
    assert.deepEqual([late.code, late.message], ['VOLUME_IN_USE', `DISK ${v}: Disk not available`]);
    assert.doesNotMatch(late.hint, /VM 1\b/, 'another account is not told the owner\'s vm ID');
  });

  it('read-only types are read-only to their owner too, and shared between her VMs', async () => {
    for (const type of ['DATA_IMAGE_RAW_READONLY', 'DATA_IMAGE_ORIGIN']) {
      const v = await volume(ALICE, { type });
      assert.equal((await w.disks.attach(ALICE, v, '21')).readOnly, true, type);
      assert.equal((await w.disks.attach(ALICE, v, '22')).readOnly, true, type);
      assert.equal(await count(v), 2);
    }
  });

  it('only data volumes attach; others\' private volumes and quarantined ones do not exist', async () => {
    for (const type of ['MACHINE_IMAGE_LIVE', 'MACHINE_IMAGE_ORIGIN']) {
      const v = await volume(ALICE, { type });
      const r = await refusal(w.disks.attach(ALICE, v, '31'));
      assert.equal(r.code, 'VOLUME_STATE');
      assert.match(r.message, new RegExp(`^DISK ${v}: Invalid disk state: ${type}\\. Only data volumes`));
    }
    const mine = await volume(ALICE);
    assert.deepEqual([(await refusal(w.disks.attach(BOB, mine, '32'))).code, (await refusal(w.disks.attachable(BOB, mine))).code], ['VOLUME_NOT_FOUND', 'VOLUME_NOT_FOUND']);
    await w.disks.quarantine(mine);
    assert.equal((await refusal(w.disks.attach(ALICE, mine, '33'))).code, 'VOLUME_NOT_FOUND');
    assert.equal((await refusal(w.disks.attach(ALICE, 'not-a-uuid', '33'))).code, 'VOLUME_INVALID');
  });

  it('each VM has its own devices, vdz down: devices QEMU still has are skipped, a detached one is taken again, the same volume twice is refused', async () => {
    const [a, b, c] = [await volume(ALICE), await volume(ALICE), await volume(ALICE)];
    assert.equal((await w.disks.attach(ALICE, a, '41')).mount.target, 'vdz');
    assert.equal((await w.disks.attach(ALICE, b, '41', ['vdy'])).mount.target, 'vdx', 'vdy is plugged in QEMU without a record');
    const twice = await refusal(w.disks.attach(ALICE, a, '41'));
    assert.deepEqual([twice.code, twice.message], ['VOLUME_IN_USE', `DISK ${a}: already attached to VM 41 on /dev/vdz`]);
    assert.equal((await w.disks.attach(ALICE, c, '42')).mount.target, 'vdz', 'another VM starts again at vdz');
    await w.disks.detach(a, '41', 'alice');
    assert.equal((await w.disks.attach(ALICE, a, '41')).mount.target, 'vdz');
    assert.deepEqual((await w.disks.attachments('41', 'alice')).map((x) => x.mount.target).sort(), ['vdx', 'vdz']);
  });

  it("a record another account made by hand on the VM's id (pdisk's mount API) neither blocks the VM's owner nor counts as her attachment", async () => {
    const v = await volume(ALICE, { visibility: 'public' });
    await w.volumes.mount(BOB, v, { node: 'localhost', vmId: '51' });
    assert.deepEqual(await w.disks.attachments('51', 'alice'), []);
    assert.equal((await w.disks.attach(ALICE, v, '51')).mount.owner, 'alice', 'replaced');
    assert.deepEqual((await w.volumes.mounts(ALICE, v)).map((m) => [m.vmId, m.owner]), [['51', 'alice']]);
    assert.equal(await w.disks.detach(v, '52', 'alice'), undefined, 'nothing on another VM');
  });

  it('the end of a VM ends every record on it (attachments, its boot claim), and none of another VM', async () => {
    const [a, b, boot] = [await volume(ALICE), await volume(ALICE, { type: 'DATA_IMAGE_RAW_READONLY' }), await volume(ALICE, { type: 'MACHINE_IMAGE_LIVE' })];
    await w.disks.attach(ALICE, a, '61');
    await w.disks.attach(ALICE, b, '61');
    await w.disks.attach(ALICE, b, '62');
    await w.disks.claim(boot, '61', ALICE);
    await w.disks.releaseVm('61');
    assert.deepEqual([await count(a), await count(b), await count(boot)], [0, 1, 0]);
    assert.equal((await w.disks.attachments('62', 'alice')).length, 1);
  });

  it('a volume copy-on-write snapshots read through attaches read-only, even to its owner and whatever its type says: writing it would change the snapshots under their VMs', async () => {
    const origin = await volume(ALICE, { type: 'MACHINE_IMAGE_ORIGIN' });
    await w.volumes.snapshot(ALICE, origin);
    await w.volumes.update(ALICE, origin, { type: 'DATA_IMAGE_RAW_READ_WRITE' });
    assert.equal((await w.disks.attachable(ALICE, origin)).readOnly, true);
    assert.equal((await w.disks.attach(ALICE, origin, '81')).readOnly, true);
    assert.equal((await w.disks.attach(ALICE, origin, '82')).readOnly, true, 'so it can be shared');
  });

  it('regression: the image cache failed with "Disk already registered" for an image the pdisk user had uploaded herself; it now uses her read-only upload as the origin', async () => {
    const content = Buffer.alloc(1024 * 1024, 3);
    const uploaded = await w.volumes.upload(ADMIN, Readable.from([content]), { gzipped: false });
    assert.equal(uploaded.type, 'DATA_IMAGE_RAW_READONLY');
    assert.equal((await w.disks.origin(uploaded.identifier))?.uuid, uploaded.uuid);
    await w.volumes.update(ADMIN, uploaded.uuid, { type: 'DATA_IMAGE_RAW_READ_WRITE' });
    assert.equal(await w.disks.origin(uploaded.identifier), undefined, 'not a volume its owner may write');
  });

  it('the admin may have any volume in a VM of her own, read-only: she writes only her own', async () => {
    assert.equal((await w.disks.attach(ADMIN, await volume(BOB), '71')).readOnly, true);
    assert.equal((await w.disks.attach(ADMIN, await volume(ADMIN), '71')).readOnly, false);
  });
});

/** Two attaches of one read-write volume to two VMs at once, `rounds` times: exactly one wins each time. */
async function raceRounds(a: InstanceDisks, b: InstanceDisks, volumes: VolumeService, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const v = (await volumes.create(ALICE, { size: 1 })).uuid;
    const results = await Promise.allSettled([a.attach(ALICE, v, `9${i}1`), b.attach(ALICE, v, `9${i}2`)]);
    const won = results.filter((r) => r.status === 'fulfilled').length;
    assert.equal(won, 1, `round ${i}: ${won} VMs got the volume read-write`);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(isStratusError(lost.reason, 'VOLUME_IN_USE'), String(lost.reason));
    assert.equal((await volumes.mounts(ALICE, v)).length, 1);
  }
}

describe('volume attachments race: one read-write volume, two VMs at once', () => {
  it('on SQLite (one server): one VM gets it, every time', async () => {
    const one = await world(await openSqlite(join(dir, 'race.db')), join(dir, 'race-volumes'));
    try {
      await raceRounds(one.disks, one.disks, one.volumes, 8);
    } finally {
      await one.database.close();
    }
  });

  it('on PostgreSQL, from two pools (two servers): one VM gets it, every time', async () => {
    postgres = await startPostgres();
    const first = await openPostgres(postgres.url);
    const pg = await world(first, join(dir, 'pg-volumes'));
    const second = await openPostgres(postgres.url);
    try {
      const other = new InstanceDisks(new VolumeStore(second), createFileVolumeDriver(join(dir, 'pg-volumes'), { durable: false }), unlimited, 'admin');
      await raceRounds(pg.disks, other, pg.volumes, 8);
    } finally {
      await first.close();
      await second.close();
    }
  });
});
