/**
 * A real guest's VNC server through stratus-run-instance --vnc-port -1 (StratusLab's default):
 * describe-instance reports a loopback port, a VNC server answers there with RFB 3.8 and VNC
 * authentication only, and the password the owner is given opens this instance's screen, while
 * the guest boots and answers SSH as usual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import { ok, runCli } from '../helpers/cli.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { RFB_VNC_AUTH, rfbGreeting, vncAuthenticate } from '../helpers/rfb.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { acquireGuestSlots, qemuProcessesFor, sshKey } from '../helpers/vm.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
const admin = { username: 'admin', password: 'admin-vnc-vm-1' };
const alice = { username: 'alice', password: 'alice-vnc-vm-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
const server = await startServerProcess(dataDir, [], env);
const key = sshKey(dir);

function asAlice(args: string[]): ReturnType<typeof runCli> {
  return runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: alice.username, STRATUSLAB_PASSWORD: alice.password } });
}

test('ttylinux with --vnc-port -1: a VNC server answers on the reported loopback port, asks for the password, and the owner\'s password opens the instance\'s screen', async (t) => {
  const image = await publishRecipe(server.url, dataDir, 'ttylinux', { dir, env });
  await addAccount(server.url, admin, alice.username, alice.password);
  const releaseSlots = await acquireGuestSlots(1);
  t.after(releaseSlots);
  const run = ok(await asAlice(['run-instance', '-q', '-k', `${key.path}.pub`, '--ram', '256', '--vnc-port', '-1', image.identifier]));
  const id = Number(run.stdout.split(',')[0]);
  t.after(async () => {
    await asAlice(['kill-instance', String(id)]);
  });
  const vm = (JSON.parse(ok(await asAlice(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo[])[0] as InstanceInfo;
  assert.equal(vm.state, 'Running');
  const vnc = vm.vnc as { address: string; port: number; password: string };
  assert.equal(vnc.address, '127.0.0.1');
  assert.ok(vnc.port >= 5900 && vnc.port <= 5999, `port ${vnc.port} from the default range 5900-5999`);

  // The guest boots and answers with VNC on: the screen is a real one's.
  assert.equal(ok(await asAlice(['connect-instance', '-k', key.path, String(id), '--', 'uname', '-n'])).stdout.trim(), `one-${id}`);
  const greeting = await rfbGreeting(vnc.address, vnc.port);
  assert.equal(greeting.banner, 'RFB 003.008\n');
  assert.deepEqual(greeting.types, [RFB_VNC_AUTH], 'VNC authentication, and no unauthenticated access');
  assert.equal((await vncAuthenticate(vnc.address, vnc.port, 'wrong-pw')).ok, false);
  const session = await vncAuthenticate(vnc.address, vnc.port, vnc.password);
  assert.equal(session.ok, true, session.reason);
  assert.equal(session.desktop?.name, `QEMU (one-${id})`, 'QEMU names the desktop after the machine');
  assert.ok((session.desktop?.width ?? 0) > 0 && (session.desktop?.height ?? 0) > 0, 'a screen to show');

  const all = ok(await asAlice(['describe-instance', '-vvv', String(id)])).stdout.split('\n');
  assert.ok(all.includes(`  vnc_port = ${vnc.port}`) && all.includes(`  vnc_password = ${vnc.password}`), all.join('\n'));

  assert.equal(qemuProcessesFor(`one-${id}`, join(dataDir, 'instances')).length, 1);
  ok(await asAlice(['kill-instance', String(id)]));
  assert.deepEqual(qemuProcessesFor(`one-${id}`, join(dataDir, 'instances')), [], 'no QEMU left');
  await assert.rejects(rfbGreeting(vnc.address, vnc.port), 'the VNC server went with the instance');
});
