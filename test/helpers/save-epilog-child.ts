/**
 * A server's Epilog in a process of its own, for the crash test (test/integration/save-crash):
 * runs the --save Epilog of instance argv[3] against the data in argv[2], printing a line when
 * the copy is under way, so the test can kill it with SIGKILL mid-copy.
 */
import { join } from 'node:path';
import { openSqlite } from '../../src/storage/database.js';
import { InstanceStore } from '../../src/storage/instances.js';
import type { InstanceRow } from '../../src/storage/instances.js';
import { VolumeStore } from '../../src/storage/volumes/store.js';
import { createFileVolumeDriver } from '../../src/storage/volumes/file-driver.js';
import { InstanceDisks } from '../../src/volumes/instance-disks.js';
import { SaveEpilog } from '../../src/cloud/save-epilog.js';

const [dir, id] = [process.argv[2] as string, Number(process.argv[3])];
const database = await openSqlite(join(dir, 'stratus.db'));
const driver = createFileVolumeDriver(join(dir, 'volumes'), { durable: false });
const disks = new InstanceDisks(new VolumeStore(database), driver, { quotaOf: async () => ({ gib: null, volumes: null }) }, 'admin');
// Slowed down once under way, so the test's SIGKILL lands in the middle of the copy.
const original = disks.saveSnapshot.bind(disks);
disks.saveSnapshot = async (uuid, owner, o) => original(uuid, owner, {
  ...o, onProgress: (bytes: number) => {
    if (bytes >= 8 * 1024 * 1024) {
      process.stdout.write('copying\n');
      const until = Date.now() + 500;
      while (Date.now() < until) { /* hold the copy here */ }
    }
  },
});
const instances = new InstanceStore(database);
await new SaveEpilog({ store: instances, disks, format: 'raw', detach: async () => undefined, pdiskEndpoint: () => 'http://127.0.0.1:8445' }).run(await instances.get(id) as InstanceRow);
process.stdout.write('saved\n');
