import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import { runCli, ok } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlots, sshKey } from '../helpers/vm.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import type { VolumeInfo } from '../../src/domain/volume.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
const admin = { username: 'admin', password: 'admin-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
const server = await startServerProcess(dataDir, [], env);
const key = sshKey(dir);

const alice = (args: string[]): ReturnType<typeof runCli> =>
  runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: 'alice', STRATUSLAB_PASSWORD: 'alice-pass-1' } });

async function sha1Of(path: string): Promise<string> {
  const h = createHash('sha1');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

test('--save on ttylinux: a file written over SSH is in the new volume after shutdown, whose identifier is its SHA-1; the instance and the log carry MARKETPLACE_AND_IMAGEID', async (t) => {
  const image = await publishRecipe(server.url, dataDir, 'ttylinux', { dir, env });
  await addAccount(server.url, admin, 'alice', 'alice-pass-1');
  const refused = await alice(['run-instance', '-k', `${key.path}.pub`, '--save', '--author', 'Jane Tester', image.identifier]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /With the --save option, please provide the author's e-mail address \(--author-email\)/);

  const release = await acquireGuestSlots(1);
  t.after(release);
  const run = ok(await alice(['run-instance', '-q', '-k', `${key.path}.pub`, '--ram', '256', '--save', '--author', 'Jane Tester', '--author-email', 'jane@example.org',
    '--title', 'ttylinux with cloud.txt', '--comment', 'writes /root/cloud.txt', '--image-version', '1.1', image.identifier]));
  const id = Number(run.stdout.split(',')[0]);
  t.after(async () => { await alice(['kill-instance', String(id)]); });
  const vm = JSON.parse(ok(await alice(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo | InstanceInfo[];
  const info = Array.isArray(vm) ? vm[0] as InstanceInfo : vm;
  assert.match(info.name, /^creator: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

  ok(await alice(['connect-instance', '-k', key.path, String(id), '--', 'echo Cloudy Weather Expected > /root/cloud.txt && sync']));
  ok(await alice(['shutdown-instance', String(id)]));

  const done = await (await fetch(`${server.url}/instances/${id}`, { headers: { authorization: `Basic ${Buffer.from('alice:alice-pass-1').toString('base64')}` } })).json() as InstanceInfo;
  assert.equal(done.state, 'Done', `message: ${String(done.message)}\n${server.log()}`);
  const m = /^MARKETPLACE_AND_IMAGEID (\S+) ([A-Za-z0-9_-]{27})$/.exec(done.message ?? '');
  assert.ok(m, `message: ${String(done.message)}`);
  const identifier = m[2] as string;
  assert.match(server.log(), new RegExp(`VM ${id}: MARKETPLACE_AND_IMAGEID \\S+ ${identifier}`));

  const volumes = JSON.parse(ok(await alice(['describe-volumes', '--json'])).stdout) as VolumeInfo[];
  const saved = volumes.find((v) => v.identifier === identifier);
  assert.ok(saved, `no volume with identifier ${identifier}: ${JSON.stringify(volumes)}`);
  assert.deepEqual([saved.owner, saved.type, saved.visibility, saved.tag], ['alice', 'MACHINE_IMAGE_ORIGIN', 'PRIVATE', 'ttylinux with cloud.txt']);
  const file = join(dataDir, 'volumes', `${saved.uuid}.raw`);
  assert.equal(identifierFromSha1(await sha1Of(file)), identifier, 'the identifier is the SHA-1 of the stored bytes');
  assert.ok(readFileSync(file).includes(Buffer.from('Cloudy Weather Expected\n')), 'the file written in the guest is on the saved disk');
});
