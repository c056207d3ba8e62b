/**
 * Issue 9's Done-when for volumes, through the real commands against a real `stratus serve`
 * (user-mode networking): attach a pdisk volume to a running debian-12, write a file on it,
 * detach it, attach it to a second VM and read the file back. The file system is made inside
 * the guest (mkfs.ext4); the guest finds the disk by its serial (udev's
 * /dev/disk/by-id/virtio-<first 20 characters of the UUID>). Two debian-12 guests, at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { runCli, ok } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { acquireGuestSlots, sshKey } from '../helpers/vm.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
const admin = { username: 'admin', password: 'admin-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
const server = await startServerProcess(dataDir, [], env);
const key = sshKey(dir);

function as(who: { username: string; password: string }): (args: string[]) => Promise<CliResult> {
  return (args) => runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: who.username, STRATUSLAB_PASSWORD: who.password } });
}
const alice = as({ username: 'alice', password: 'alice-pass-1' });

/** Runs a shell command as root in the guest, through stratus-connect-instance (which retries until the guest answers). */
function inGuest(id: string, command: string): Promise<CliResult> {
  return alice(['connect-instance', '-k', key.path, id, '--', command]);
}

/** The guest's device for the volume, once udev has named it (up to 30 s after the hot-plug). */
const byId = (uuid: string): string => `/dev/disk/by-id/virtio-${uuid.slice(0, 20)}`;
const waitFor = (uuid: string): string => `i=0; until [ -e ${byId(uuid)} ] || [ $i -ge 60 ]; do sleep 0.5; i=$((i+1)); done; readlink -f ${byId(uuid)}`;

const image = await publishRecipe(server.url, dataDir, 'debian-12', { dir, env });
await addAccount(server.url, admin, 'alice', 'alice-pass-1');

test('a pdisk volume attached to a running debian-12, written (ext4 made in the guest), detached, attached to a second debian-12: the file reads back', async (t) => {
  // Both at once: holding one while waiting for the other deadlocked with another test doing the same.
  const releaseSlots = await acquireGuestSlots(2);
  const ids: string[] = [];
  t.after(async () => {
    for (const id of ids) await as(admin)(['kill-instance', id]);
    releaseSlots();
  });
  const run = ok(await alice(['run-instance', '-q', '-n', '2', '-k', `${key.path}.pub`, '--cpu', '1', '--ram', '1024', '--swap', '0', image.identifier]));
  ids.push(...run.stdout.trim().split('\n').map((l) => l.split(',')[0] as string));
  const [first, second] = ids as [string, string];
  const volume = (/^DISK ([0-9a-f-]{36})\n$/.exec(ok(await alice(['create-volume', '-s', '1', '-t', 'shared data'])).stdout) as RegExpExecArray)[1] as string;
  for (const id of ids) ok(await inGuest(id, 'cloud-init status --wait >/dev/null; true'));

  assert.equal(ok(await alice(['attach-volume', '-i', first, volume])).stdout, `ATTACHED ${volume} in VM ${first} on /dev/vdz\n`);
  const written = `written in VM ${first}`;
  const made = ok(await inGuest(first, `set -e; dev=$(${waitFor(volume)}); mkfs.ext4 -q -L shared $dev; mkdir -p /mnt/shared; mount $dev /mnt/shared; echo '${written}' > /mnt/shared/proof.txt; umount /mnt/shared; sync; echo $dev`));
  assert.match(made.stdout, /^\/dev\/vd[a-z]\n$/, made.stdout);

  const refused = await alice(['attach-volume', '-i', second, volume]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`^  \\[ERROR\\] DISK ${volume}: Disk not available\\n  hint: It is attached read-write to VM ${first}`), 'read-write in the first VM: not in a second');

  assert.equal(ok(await alice(['detach-volume', '-i', first, volume])).stdout, `DETACHED ${volume} from VM ${first} on /dev/vdz\n`);
  assert.equal(ok(await inGuest(first, `[ -e ${byId(volume)} ] && echo still there || echo gone`)).stdout, 'gone\n');

  assert.equal(ok(await alice(['attach-volume', '-i', second, volume])).stdout, `ATTACHED ${volume} in VM ${second} on /dev/vdz\n`);
  const read = ok(await inGuest(second, `set -e; dev=$(${waitFor(volume)}); mkdir -p /mnt/shared; mount $dev /mnt/shared; cat /mnt/shared/proof.txt; umount /mnt/shared`));
  assert.equal(read.stdout, `${written}\n`);
  assert.equal(ok(await alice(['detach-volume', '-i', second, volume])).stdout, `DETACHED ${volume} from VM ${second} on /dev/vdz\n`);
});
