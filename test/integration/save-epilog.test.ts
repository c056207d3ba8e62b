/**
 * The --save Epilog's steps and their record (cloud/save-epilog.ts) on a real SQLite database,
 * saving raw (the qcow2 save is test/integration/save-snapshot's and the VM tests'),
 * volume store and qcow2 overlay, without a guest: the saved image and its draft, the log line,
 * a resume after a server killed mid-copy (a half-made volume left behind), and a failure that
 * leaves no new volume and the snapshot with its owner. The guest side is test/vm's.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import type { Principal } from '../../src/accounts/accounts.js';
import { openSqlite } from '../../src/storage/database.js';
import { UserStore } from '../../src/storage/users.js';
import { InstanceStore } from '../../src/storage/instances.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import { createFileVolumeDriver } from '../../src/storage/volumes/file-driver.js';
import { InstanceDisks } from '../../src/volumes/instance-disks.js';
import { SaveEpilog } from '../../src/cloud/save-epilog.js';
import { VolumeService } from '../../src/volumes/service.js';
import type { SavedImage } from '../../src/cloud/save-epilog.js';
import { parseSpec, serializeSpec } from '../../src/cloud/instance-spec.js';
import type { InstanceSpec } from '../../src/cloud/instance-spec.js';
import { tempDir } from '../helpers/tmp.js';

const MIB = 1024 * 1024;
const ALICE: Principal = { id: randomUUID(), username: 'alice', admin: false };
const unlimited = { quotaOf: async () => ({ gib: null, volumes: null }) };
const SAVE = { author: 'Jane Tester', authorEmail: 'jane@example.org', title: 'saved by the test', comment: 'a file written', imageVersion: '' };

const dir = tempDir('stratus-epilog-');
const database = await openSqlite(join(dir, 'stratus.db'));
after(() => database.close());
await new UserStore(database).insert({ id: ALICE.id, username: 'alice', password_hash: 'unused', is_admin: 0, quota_gib: null, quota_volumes: null, created: '2026-01-01T00:00:00Z' });
const driver = createFileVolumeDriver(join(dir, 'volumes'), { durable: false });
const volumes = new VolumeStore(database);
const disks = new InstanceDisks(volumes, driver, unlimited, 'admin');
const instances = new InstanceStore(database);
const tool = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', cwd: dir });

let made = 0;
/** An instance in Epilog whose disk is alice's snapshot of a raw origin, written to as a guest would. */
async function savedInstance(spec: Partial<InstanceSpec> = {}): Promise<{ id: number; disk: string; sha1: string }> {
  const file = join(dir, `${randomUUID()}.raw`);
  tool('qemu-img', ['create', '-q', '-f', 'raw', file, String(16 * MIB)]);
  const origin = await disks.addOrigin(file, { identifier: identifierFromSha1(randomBytes(20)), format: 'raw' });
  const snapshot = await disks.liveCopy(ALICE, origin, 'test');
  // A place of its own for each instance's write: a random pattern byte alone made two instances'
  // disks the same one time in ~85, and their second save a duplicate image.
  made += 1;
  tool('qemu-io', ['-f', 'qcow2', '-c', `write -P 0x5a ${String(made * 64)}K 2M`, disks.locate(snapshot.uuid).path]);
  const flat = join(dir, `${randomUUID()}.flat`);
  tool('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', disks.locate(snapshot.uuid).path, flat]);
  const sha1 = tool('sha1sum', [flat]).split(' ')[0] as string;
  const full: InstanceSpec = { type: 'custom', contextMethod: 'cloud-init', context: {}, diskMade: true, save: SAVE, ...spec };
  const row = await instances.create({ owner: 'alice', owner_id: ALICE.id, name: 'creator: 2026-12-06T08:00:00Z', image: origin.uuid, cpu: 1, ram_mib: 64, swap_mib: 0, spec: serializeSpec(full) });
  for (const [from, to] of [['Pending', 'Prolog'], ['Prolog', 'Boot'], ['Boot', 'Running'], ['Running', 'Shutdown'], ['Shutdown', 'Epilog']] as const) {
    await instances.transition(row.id, from, to, to === 'Boot' ? { disk: snapshot.uuid } : {});
  }
  return { id: row.id, disk: snapshot.uuid, sha1 };
}

const rowOf = async (id: number): Promise<NonNullable<Awaited<ReturnType<InstanceStore['get']>>>> => (await instances.get(id)) as NonNullable<Awaited<ReturnType<InstanceStore['get']>>>;

describe('the --save Epilog', () => {
  it('detaches, saves the disk as alice\'s new image, drafts its entry, hands it to the publisher and logs MARKETPLACE_AND_IMAGEID', async () => {
    const { id, disk, sha1 } = await savedInstance();
    const published: SavedImage[] = [];
    const logged: string[] = [];
    const detached: number[] = [];
    const epilog = new SaveEpilog({ format: 'raw',
      store: instances, disks, detach: async (vm) => { detached.push(vm); }, pdiskEndpoint: () => 'http://127.0.0.1:8445',
      publish: async (s) => { published.push(s); return { marketplace: 'http://127.0.0.1:8445' }; }, log: (l) => logged.push(l),
    });
    const line = await epilog.run(await rowOf(id));
    const identifier = identifierFromSha1(sha1);
    assert.equal(line, `MARKETPLACE_AND_IMAGEID http://127.0.0.1:8445 ${identifier}`);
    assert.deepEqual(logged, [`VM ${id}: ${line}`]);
    assert.deepEqual(detached, [id]);
    const saved = published[0] as SavedImage;
    assert.deepEqual([saved.volume.owner, saved.volume.identifier, saved.volume.tag, saved.draft.identifier, saved.draft.version, saved.draft.creator], ['alice', identifier, SAVE.title, identifier, '0.1', 'Jane Tester']);
    assert.deepEqual(saved.draft.locations, [`pdisk:127.0.0.1:8445:${saved.volume.uuid}`]);
    assert.match(saved.draftXml, /<slreq:algorithm>SHA-512<\/slreq:algorithm>/);
    // The audit's verdict follows the --comment: this disk holds no file system to read.
    assert.equal(saved.draft.description, `${SAVE.comment}\nImage check (stratus-check-image): not done: neither a partitioned disk (no MBR) nor an ext file system`);
    const spec = parseSpec((await rowOf(id)).spec);
    assert.equal(spec.saveState?.step, 'done');
    assert.equal(SaveEpilog.keepsDisk(spec), false, 'the snapshot is quarantined as usual once the image exists');
    assert.ok(await volumes.get(disk), 'the snapshot is still there for the release to quarantine');
    // Run again (a restart finding it in Epilog): nothing is made twice.
    assert.equal(await epilog.run(await rowOf(id)), line);
    assert.equal(published.length, 1);
  });

  it('a server killed mid-copy: the restarted one removes the half-made volume (bytes and row) and copies again', async () => {
    const { id, sha1 } = await savedInstance();
    const target = randomUUID();
    // What a SIGKILL after the copy's commit and insert, before its step was recorded, leaves.
    await disks.saveSnapshot((await rowOf(id)).disk as string, { username: 'alice', id: ALICE.id }, { tag: 'half', target });
    const spec = parseSpec((await rowOf(id)).spec);
    await instances.setSpec(id, serializeSpec({ ...spec, saveState: { step: 'copy', target } }));
    const line = await new SaveEpilog({ store: instances, disks, format: 'raw', detach: async () => undefined, pdiskEndpoint: () => 'http://127.0.0.1:8445' }).run(await rowOf(id));
    assert.equal(line, `MARKETPLACE_AND_IMAGEID http://127.0.0.1:8445 ${identifierFromSha1(sha1)}`, 'no publisher: the target is this server');
    const saved = await volumes.get(target);
    assert.equal(saved?.tag, SAVE.title, 'copied again under the same UUID, by this Epilog');
    assert.deepEqual((await driver.inventory()).temporary, []);
  });

  it('a failure (the publisher refuses) removes the new volume, records why, and leaves the snapshot to its owner; a restart does not retry', async () => {
    const { id, disk } = await savedInstance();
    const before = (await volumes.allUuids()).sort();
    const epilog = new SaveEpilog({ store: instances, disks, format: 'raw', detach: async () => undefined, pdiskEndpoint: () => 'http://127.0.0.1:8445', publish: async () => { throw new Error('the Marketplace refused the draft'); } });
    await assert.rejects(epilog.run(await rowOf(id)), /the Marketplace refused the draft/);
    assert.deepEqual((await volumes.allUuids()).sort(), before, 'no new volume stays');
    const spec = parseSpec((await rowOf(id)).spec);
    assert.deepEqual([spec.saveState?.step, spec.saveState?.reason], ['failed', 'the Marketplace refused the draft']);
    assert.equal(SaveEpilog.keepsDisk(spec), true);
    assert.equal((await volumes.get(disk))?.owner, 'alice');
    await assert.rejects(epilog.run(await rowOf(id)), /saving VM \d+ failed: the Marketplace refused the draft/);
  });

  it('a server killed with SIGKILL in the middle of the copy: the next one sweeps the half-written file, resumes at the copy, and saves; the overlay is untouched', async () => {
    const { id, disk, sha1 } = await savedInstance();
    const overlay = readFileSync(disks.locate(disk).path);
    const child = spawn(process.execPath, [fileURLToPath(new URL('../helpers/save-epilog-child.js', import.meta.url)), dir, String(id)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('copying')) resolve(); });
      child.on('exit', (code) => reject(new Error(`the Epilog ended (${String(code)}) before it could be killed mid-copy`)));
    });
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const state = parseSpec((await rowOf(id)).spec).saveState;
    assert.equal(state?.step, 'copy', 'killed during the copy, as recorded');
    assert.ok((await driver.inventory()).temporary.length > 0, 'the kill left a half-written file');
    // The restart: the start-up reconcile, then adopt() runs the Epilog again.
    await new VolumeService(volumes, driver, unlimited).reconcile();
    const line = await new SaveEpilog({ store: instances, disks, format: 'raw', detach: async () => undefined, pdiskEndpoint: () => 'http://127.0.0.1:8445' }).run(await rowOf(id));
    assert.equal(line, `MARKETPLACE_AND_IMAGEID http://127.0.0.1:8445 ${identifierFromSha1(sha1)}`);
    assert.equal((await volumes.get(state.target as string))?.identifier, identifierFromSha1(sha1));
    assert.deepEqual((await driver.inventory()).temporary, []);
    assert.ok(readFileSync(disks.locate(disk).path).equals(overlay), 'the user\'s overlay is as it was');
  });
});
