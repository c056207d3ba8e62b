/**
 * The instance layer cache on a ttylinux guest of a real `stratus serve`: a file written over
 * SSH and synced is in the layer saved from the running guest; a new instance started from the
 * layer has it; and a --save instance started from a layer saves a volume holding what the layer
 * held and what was written after. One guest at a time. The layer's size and the time the guest
 * was paused for the freeze are printed (t.diagnostic) for docs/architecture.md.
 */
import { volumeFile } from '../helpers/saved-image.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { LayerClient } from '../../src/client/layer-client.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import type { VolumeInfo } from '../../src/domain/volume.js';
import { runCli, ok } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlots, sshKey } from '../helpers/vm.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
const admin = { username: 'admin', password: 'admin-pass-1' };
const alice = { username: 'alice', password: 'alice-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
const server = await startServerProcess(dataDir, [], env);
const key = sshKey(dir);

const asAlice = (args: string[]): ReturnType<typeof runCli> =>
  runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: alice.username, STRATUSLAB_PASSWORD: alice.password } });
const inGuest = async (id: number, command: string): Promise<string> => ok(await asAlice(['connect-instance', '-k', key.path, String(id), '--', command])).stdout;

test('ttylinux: a synced file is in the layer; an instance started from the layer has it; --save of such an instance keeps it and what came after', async (t) => {
  const image = await publishRecipe(server.url, dataDir, 'ttylinux', { dir, env });
  await addAccount(server.url, admin, alice.username, alice.password);
  const client = new LayerClient(server.url, alice);
  const release = await acquireGuestSlots(1);
  t.after(release);
  const ids: number[] = [];
  t.after(async () => {
    for (const id of ids) await client.killInstance(id).catch(() => undefined);
  });
  const start = async (extra: Partial<Parameters<LayerClient['runInstances']>[0]> = {}): Promise<InstanceInfo> => {
    const [vm] = await client.runInstances({ image: image.identifier, cpu: 1, ramMiB: 256, sshKeys: [key.publicKey], ...extra });
    ids.push((vm as InstanceInfo).id);
    return vm as InstanceInfo;
  };

  const first = await start();
  await inGuest(first.id, 'echo Step one was here > /root/step1.txt && sync');
  const k = randomBytes(32).toString('hex');
  const began = Date.now();
  const saved = await client.savedLayer(first.id, k);
  const ms = Date.now() - began;
  t.diagnostic(`layer of a ttylinux guest after one step: ${saved.bytes} bytes, saved in ${ms} ms (guest paused meanwhile)`);
  assert.equal(await client.hasLayer(k), true);
  // The guest goes on after the freeze.
  assert.equal((await inGuest(first.id, 'cat /root/step1.txt')).trim(), 'Step one was here');
  await client.killInstance(first.id);

  const second = await start({
    layer: k,
    save: { author: 'Jane Tester', authorEmail: 'jane@example.org', title: 'ttylinux from a layer', comment: 'step one from the layer, step two after', imageVersion: '1.0' },
  });
  assert.equal((await inGuest(second.id, 'cat /root/step1.txt')).trim(), 'Step one was here', 'the new instance started as the layer');
  await inGuest(second.id, 'echo Step two came after > /root/step2.txt && sync');
  // A layer of an instance started from a layer is a delta over the origin again: saved, it has both steps.
  const k2 = randomBytes(32).toString('hex');
  const both = await client.savedLayer(second.id, k2);
  t.diagnostic(`layer after two steps: ${both.bytes} bytes`);
  await client.deleteLayer(k2);

  ok(await asAlice(['shutdown-instance', String(second.id)]));
  const done = await client.instance(second.id);
  assert.equal(done.state, 'Done', `message: ${String(done.message)}\n${server.log()}`);
  const identifier = /^MARKETPLACE_AND_IMAGEID \S+ (\S+)$/.exec(done.message ?? '')?.[1];
  assert.ok(identifier, `message: ${String(done.message)}`);
  const volumes = JSON.parse(ok(await asAlice(['describe-volumes', '--json'])).stdout) as VolumeInfo[];
  const volume = volumes.find((v) => v.identifier === identifier);
  assert.ok(volume, `no volume with identifier ${identifier}`);
  // The saved qcow2 stores its clusters as they are: the guest's text is in the file.
  const bytes = readFileSync(volumeFile(dataDir, volume));
  assert.ok(bytes.includes(Buffer.from('Step one was here\n')), 'the layer\'s file is on the saved disk');
  assert.ok(bytes.includes(Buffer.from('Step two came after\n')), 'and so is the one written after');
  await client.deleteLayer(k);
});
