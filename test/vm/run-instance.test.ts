import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { runCli, ok } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlot, acquireGuestSlots, recipeImage, sshKey } from '../helpers/vm.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import type { VolumeInfo } from '../../src/domain/volume.js';
import { instanceRoutes as ins } from '../../src/domain/routes/index.js';
import { DocumentChecker } from '../helpers/openapi-check.js';
import type { OpenApiDocument } from '../helpers/openapi-check.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
const admin = { username: 'admin', password: 'admin-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
let server = await startServerProcess(dataDir, [], env);
const key = sshKey(dir);

function addUser(username: string, password: string): Promise<void> {
  return addAccount(server.url, admin, username, password);
}

/** stratus-* as one account against the server, HOME in the test dir (no real user config). */
function as(who: { username: string; password: string }): (args: string[]) => ReturnType<typeof runCli> {
  return (args) => runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: who.username, STRATUSLAB_PASSWORD: who.password } });
}

/** QEMU processes of this server's instance (names repeat across servers; directories do not). */
function qemuOf(id: number): number[] {
  try {
    return execFileSync('pgrep', ['-f', `${dataDir}/instances/one-${id}/`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

test('ttylinux from the Marketplace: run-instance prints StratusLab\'s lines, describe shows it Running with real memory, connect reaches root over SSH, others see nothing of it, kill ends it and quarantines its disk', async (t) => {
  const image = await publishRecipe(server.url, dataDir, 'ttylinux', { dir, env });
  await addUser('alice', 'alice-pass-1');
  await addUser('bob', 'bob-pass-1');
  const alice = as({ username: 'alice', password: 'alice-pass-1' });
  const bob = as({ username: 'bob', password: 'bob-pass-1' });

  const releaseSlot = await acquireGuestSlot();
  t.after(releaseSlot);
  const run = ok(await alice(['run-instance', '-k', `${key.path}.pub`, '--ram', '256', image.identifier]));
  const m = /^\n :{25}\n :: Starting machine\(s\) ::\n :{25}\n :: Starting 1 machine\n :: Machine 1 \(vm ID: (\d+)\)\n\tPublic ip: (\S+)\n :: Done!\n$/.exec(run.stdout);
  assert.ok(m, `run-instance output:\n${run.stdout}`);
  const id = Number(m[1]);
  const ip = m[2] as string;
  t.after(async () => {
    await alice(['kill-instance', String(id)]);
  });

  const table = ok(await alice(['describe-instance'])).stdout.split('\n');
  assert.match(table[0] ?? '', /^id\s+state\s+vcpu\s+memory\s+cpu%\s+host\/ip\s+name$/);
  const row = (table[1] ?? '').split(/\s+/);
  assert.deepEqual([row[0], row[1], row[2], row[5], row[6]], [String(id), 'Running', '1', ip, `one-${id}`]);
  assert.ok(Number(row[3]) > 10_000, `monitored memory ${row[3]} KiB is QEMU's resident memory`);

  // The answers of a running instance are what /openapi.json says they are.
  const api = new DocumentChecker(server.url, await (await fetch(`${server.url}/openapi.json`)).json() as OpenApiDocument);
  const aliceAuth = { username: 'alice', password: 'alice-pass-1' };
  assert.equal((await api.call(ins.get, { auth: aliceAuth, params: { id: String(id) } })).status, 200);
  assert.equal((await api.call(ins.context, { auth: aliceAuth, params: { id: String(id) } })).status, 200);
  assert.equal((await api.call(ins.list, { auth: aliceAuth })).status, 200);

  const uname = ok(await alice(['connect-instance', '-k', key.path, String(id), '--', 'uname', '-n'])).stdout.trim();
  assert.equal(uname, `one-${id}`, 'the guest took its hostname from the context');
  // Read once the guest answered SSH: right after run-instance, a loaded host may not have run the firmware yet.
  assert.match((await api.call(ins.console, { auth: aliceAuth, params: { id: String(id) } })).text, /SYSLINUX|Linux/);

  // Another user: the instance does not exist for them, and their kill changes nothing.
  const peek = await bob(['describe-instance', String(id)]);
  assert.equal(peek.code, 1);
  assert.match(peek.stderr, new RegExp(`VM ${id} does not exist`));
  assert.equal(ok(await bob(['describe-instance'])).stdout.trim().split('\n').length, 1, 'bob lists no instance');
  assert.equal((await bob(['kill-instance', String(id)])).code, 1);
  assert.equal((JSON.parse(ok(await alice(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo[])[0]?.state, 'Running');

  // The disk is alice's copy-on-write snapshot of the cached origin.
  const vm = (JSON.parse(ok(await alice(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo[])[0] as InstanceInfo;
  const disks = JSON.parse(ok(await as(admin)(['describe-volumes', '--json'])).stdout) as VolumeInfo[];
  const disk = disks.find((d) => d.uuid === vm.disk);
  assert.deepEqual([disk?.owner, disk?.type, disk?.format], ['alice', 'MACHINE_IMAGE_LIVE', 'qcow2']);

  ok(await alice(['kill-instance', '-v', String(id)]));
  assert.equal(ok(await alice(['describe-instance'])).stdout.trim().split('\n').length, 1, 'a Done instance drops out of the list');
  assert.deepEqual(qemuOf(id), [], 'no QEMU left');
  const after = (JSON.parse(ok(await as(admin)(['describe-volumes', '--json'])).stdout) as VolumeInfo[]).find((d) => d.uuid === vm.disk);
  assert.equal(after?.owner, 'admin', 'the ended instance\'s disk is quarantined: handed to the pdisk user');
  assert.notEqual(after?.quarantine, '');
  assert.equal((JSON.parse(ok(await alice(['describe-volumes', '--json'])).stdout) as VolumeInfo[]).some((d) => d.uuid === vm.disk), false, 'alice no longer sees it');
});

test('run-instance refuses bad input before anything starts: unknown type, missing key file, unknown image, an image that is not there', async () => {
  await addUser('carol', 'carol-pass-1');
  const carol = as({ username: 'carol', password: 'carol-pass-1' });
  const image = await recipeImage('ttylinux');
  const type = await carol(['run-instance', '-k', `${key.path}.pub`, '-t', 'x9.huge', image.identifier]);
  assert.equal(type.code, 1);
  assert.match(type.stderr, /Unknown instance type: x9\.huge/);
  const noKey = await carol(['run-instance', '-k', join(dir, 'absent.pub'), image.identifier]);
  assert.equal(noKey.code, 1);
  assert.match(noKey.stderr, /SSH public key file .*absent\.pub: no such file/);
  const absent = await carol(['run-instance', '-k', `${key.path}.pub`, 'AAAAAAAAAAAAAAAAAAAAAAAAAAA']);
  assert.equal(absent.code, 1);
  assert.match(absent.stderr, /Failed to get manifest for resource uri: .*\/metadata\/AAAAAAAAAAAAAAAAAAAAAAAAAAA\./);
  const nonsense = await carol(['run-instance', '-k', `${key.path}.pub`, 'not-an-image']);
  assert.equal(nonsense.code, 1);
  assert.match(nonsense.stderr, /neither a Marketplace ID/);
  const ram = await carol(['run-instance', '-k', `${key.path}.pub`, '--ram', '99999999', image.identifier]);
  assert.equal(ram.code, 1);
  assert.match(ram.stderr, /more than this host has/);
  assert.equal(ok(await carol(['describe-instance'])).stdout.trim().split('\n').length, 1, 'nothing was left behind');
  const missing = await carol(['kill-instance']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Missing vm-id or input file \(-i\/--input\)/);
});

test('lifecycle through the server: three instances at once (two guests running, the third halted by its own poweroff: Unknown, held until kill), shutdown through Epilog to Done, and a SIGKILLed server\'s successor adopts the running VM', async (t) => {
  const image = await recipeImage('ttylinux');
  await addUser('dave', 'dave-pass-1');
  const dave = (args: string[]): ReturnType<typeof runCli> => as({ username: 'dave', password: 'dave-pass-1' })(args);
  // Both slots at once: holding one while waiting for another deadlocks with a test doing the same.
  const releaseSlots = await acquireGuestSlots(2);
  const ids: number[] = [];
  t.after(async () => {
    if (ids.length > 0) await dave(['kill-instance', ...ids.map(String)]);
    releaseSlots();
  });
  const run = ok(await dave(['run-instance', '-q', '-n', '2', '-k', `${key.path}.pub`, '--ram', '256', '-o', join(dir, 'ids'), image.identifier]));
  const lines = run.stdout.trim().split('\n');
  assert.equal(lines.length, 2, run.stdout);
  const [a, b] = lines.map((l) => Number(/^(\d+), \S+$/.exec(l)?.[1])) as [number, number];
  ids.push(a, b);
  const listed = (): Promise<InstanceInfo[]> => dave(['describe-instance', '--json']).then((r) => JSON.parse(ok(r).stdout) as InstanceInfo[]);
  const states = async (): Promise<[number, string][]> => (await listed()).map((i) => [i.id, i.state]);
  assert.deepEqual(await states(), [[a, 'Running'], [b, 'Running']]);

  // The guest powers itself off: Unknown, its disk held, until kill. Its QEMU is gone, so a
  // third instance can run within the two-guest rule of these tests (four ran at once in the
  // instances benchmark).
  ok(await dave(['connect-instance', '-k', key.path, String(b), '--', 'true']));
  await dave(['connect-instance', '-k', key.path, String(b), '--', 'poweroff']);
  const deadline = Date.now() + 60_000;
  while ((await listed()).find((i) => i.id === b)?.state !== 'Unknown') {
    assert.ok(Date.now() < deadline, 'the instance went Unknown');
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(qemuOf(b), [], 'a guest that powered itself off leaves no QEMU running');
  assert.match(ok(await dave(['describe-instance', '-v'])).stdout, /the guest powered itself off/);

  const third = ok(await dave(['run-instance', '-q', '-k', `${key.path}.pub`, '--ram', '256', image.identifier]));
  const c = Number(/^(\d+), \S+\n$/.exec(third.stdout)?.[1]);
  ids.push(c);
  assert.deepEqual(await states(), [[a, 'Running'], [b, 'Unknown'], [c, 'Running']], 'three instances at once');
  const table = ok(await dave(['describe-instance'])).stdout.trim().split('\n').slice(1).map((l) => l.trim().split(/\s+/));
  assert.equal(table.length, 3, 'describe-instance lists all three');
  for (const row of table.filter((r) => r[1] === 'Running')) {
    assert.ok(Number(row[3]) > 10_000, `monitored memory ${row[3]} KiB of VM ${row[0]} is QEMU's resident memory`);
  }

  // shutdown: the ACPI button, then Epilog; the command returns once it is Done.
  ok(await dave(['connect-instance', '-k', key.path, String(a), '--', 'true']));
  ok(await dave(['shutdown-instance', String(a)]));
  assert.deepEqual(await states(), [[b, 'Unknown'], [c, 'Running']], 'a Done instance drops out');
  assert.deepEqual(qemuOf(a), []);

  // The server is SIGKILLed; its successor finds the VM running and can still end it.
  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));
  assert.equal(qemuOf(c).length, 1, 'the VM outlived its server');
  server = await startServerProcess(dataDir, [], env);
  assert.deepEqual(await states(), [[b, 'Unknown'], [c, 'Running']], 'adopted');
  ok(await dave(['connect-instance', '-k', key.path, String(c), '--', 'true']));

  ok(await dave(['kill-instance', String(b), String(c)]));
  assert.deepEqual(await listed(), []);
  assert.deepEqual([...qemuOf(a), ...qemuOf(b), ...qemuOf(c)], []);
});
