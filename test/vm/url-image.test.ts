import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { runCli, ok } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { startFileServer } from '../helpers/file-server.js';
import { tempDir } from '../helpers/tmp.js';
import { addAccount } from '../helpers/cloud.js';
import { acquireGuestSlots, recipeImage, sshKey } from '../helpers/vm.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import type { VolumeInfo } from '../../src/domain/volume.js';

/**
 * ttylinux from a plain URL (§1.1's third form): the base image, gzipped, on a loopback web
 * server the admin allows; run-instance checks the URL, the server fetches it into the user's
 * own origin, and the guest answers over SSH.
 */
const dir = tempDir();
const dataDir = join(dir, 'data');
mkdirSync(dataDir, { recursive: true });
writeFileSync(join(dataDir, 'stratus.cfg'), '[instances]\nurl_allow = 127.0.0.1\n');
const admin = { username: 'admin', password: 'admin-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
const server = await startServerProcess(dataDir, [], env);
const key = sshKey(dir);

test('ttylinux from a plain URL: fetched (gunzipped) into the user\'s private origin, booted from a snapshot of it, and reached over SSH', async (t) => {
  const image = await recipeImage('ttylinux');
  const web = await startFileServer();
  web.serve('/ttylinux.img.gz', { body: gzipSync(readFileSync(image.path), { level: 1 }) });
  await addAccount(server.url, admin, 'erin', 'erin-pass-1');
  const erin = (args: string[]): ReturnType<typeof runCli> => runCli(args, {
    cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: 'erin', STRATUSLAB_PASSWORD: 'erin-pass-1' },
  });

  const release = await acquireGuestSlots(1);
  t.after(release);
  const url = `${web.url}/ttylinux.img.gz`;
  const run = ok(await erin(['run-instance', '-k', `${key.path}.pub`, '--ram', '256', url]));
  assert.match(run.stdout, /:: Machine 1 \(vm ID: \d+\)\n\tPublic ip: \S+\n :: Done!\n$/);
  assert.ok(run.stderr.includes(`  [WARNING] ${url} is a plain URL: no signature or checksum vouches for the image it gives.`), run.stderr);
  const id = Number(/vm ID: (\d+)/.exec(run.stdout)?.[1]);
  t.after(async () => {
    await erin(['kill-instance', String(id)]);
  });

  const uname = ok(await erin(['connect-instance', '-k', key.path, String(id), '--', 'uname', '-n'])).stdout.trim();
  assert.equal(uname, `one-${id}`);

  const vm = (JSON.parse(ok(await erin(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo[])[0] as InstanceInfo;
  const volumes = JSON.parse(ok(await erin(['describe-volumes', '--json'])).stdout) as VolumeInfo[];
  const snapshot = volumes.find((v) => v.uuid === vm.disk) as VolumeInfo;
  const origin = volumes.find((v) => v.uuid === snapshot.origin) as VolumeInfo;
  assert.deepEqual([origin.owner, origin.visibility, origin.type, origin.format, origin.identifier, origin.bytes],
    ['erin', 'PRIVATE', 'MACHINE_IMAGE_ORIGIN', 'raw', `url:raw:${image.identifier}`, image.bytes]);
});
