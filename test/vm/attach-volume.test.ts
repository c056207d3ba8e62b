/**
 * Volumes on running ttylinux guests, through the real commands against a real `stratus serve`
 * (user-mode networking): run-instance's --persistent-disk, --readonly-disk and --volatile-disk,
 * stratus-attach-volume and stratus-detach-volume with StratusLab's lines, the rules (a
 * volume attached read-write is in one VM; others read a PUBLIC one read-only), the attacks
 * that need running guests, a server killed and restarted with volumes attached, and the end
 * of the VMs. Each guest's view is read inside it: /sys/block/vdX/serial finds a disk by its
 * volume's UUID, /sys/block/vdX/ro says whether QEMU gave it read-only. Two guests: alice's A,
 * bob's B. debian-12 (a file system written in one VM and read in another) is in
 * attach-volume-debian.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import type { VolumeInfo } from '../../src/domain/volume.js';
import { instanceRoutes as ins } from '../../src/domain/routes/index.js';
import { runCli, ok } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import type { ServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { acquireGuestSlots, qemuProcessesFor, sshKey } from '../helpers/vm.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { DocumentChecker } from '../helpers/openapi-check.js';
import type { OpenApiDocument } from '../helpers/openapi-check.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
const admin = { username: 'admin', password: 'admin-pass-1' };
const alice = { username: 'alice', password: 'alice-pass-1' };
const bob = { username: 'bob', password: 'bob-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
let server: ServerProcess = await startServerProcess(dataDir, [], env);
const key = sshKey(dir);

/** stratus-* as one account against the server (its URL changes when it restarts). */
function as(who: { username: string; password: string }): (args: string[]) => Promise<CliResult> {
  return (args) => runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: who.username, STRATUSLAB_PASSWORD: who.password } });
}
const asAlice = as(alice);
const asBob = as(bob);

/** A failed command: its exit status 1, nothing on stdout, and stderr as given. */
function refused(r: CliResult, stderr: RegExp): void {
  assert.equal(r.code, 1, `expected a refusal, got exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, stderr);
}

async function api(): Promise<DocumentChecker> {
  return new DocumentChecker(server.url, await (await fetch(`${server.url}/openapi.json`)).json() as OpenApiDocument);
}

/**
 * The disk whose serial is `serial`, as the guest sees it (`vdX ro sectors firstline`), waiting
 * up to 20 s for a hot-plugged one to show up; `gone` waits for it to go instead.
 */
async function guestDisk(who: typeof asAlice, id: string, serial: string, gone = false): Promise<{ dev: string; ro: string; sectors: number; head: string } | undefined> {
  const find = `find() { for d in /sys/block/vd*; do [ "$(cat $d/serial 2>/dev/null)" = "${serial}" ] && { echo \${d#/sys/block/}; return 0; }; done; return 1; }`;
  const wait = gone ? 'i=0; while find >/dev/null && [ $i -lt 40 ]; do sleep 0.5; i=$((i+1)); done' : 'i=0; until find >/dev/null || [ $i -ge 40 ]; do sleep 0.5; i=$((i+1)); done';
  const show = 'd=$(find) && echo "$d $(cat /sys/block/$d/ro) $(cat /sys/block/$d/size) $(head -c 64 /dev/$d | head -n 1 | tr -d "\\000")"; true';
  const out = ok(await who(['connect-instance', '-k', key.path, id, '--', `${find}; ${wait}; ${show}`])).stdout.trim();
  if (!out) return undefined;
  const [dev, ro, sectors, ...head] = out.split(' ');
  return { dev: dev as string, ro: ro as string, sectors: Number(sectors), head: head.join(' ') };
}

/** Runs a shell command in the guest as root, through stratus-connect-instance. */
async function inGuest(who: typeof asAlice, id: string, command: string): Promise<CliResult> {
  return who(['connect-instance', '-k', key.path, id, '--', command]);
}

async function volumeOf(uuid: string): Promise<VolumeInfo> {
  return (JSON.parse(ok(await as(admin)(['describe-volumes', '--json'])).stdout) as VolumeInfo[]).find((v) => v.uuid === uuid) as VolumeInfo;
}

async function newVolume(who: typeof asAlice, ...args: string[]): Promise<string> {
  const m = /^DISK ([0-9a-f-]{36})\n$/.exec(ok(await who(['create-volume', '-s', '1', ...args])).stdout);
  assert.ok(m);
  return m[1] as string;
}

// Set-up: ttylinux in the Marketplace, and a small data image to attach read-only.
const image = await publishRecipe(server.url, dataDir, 'ttylinux', { dir, env });
const MARKER = 'STRATUS READ-ONLY DATA DISK';
writeFileSync(join(dir, 'scratch-1.0-x86_64-data-1.0.img'), Buffer.concat([Buffer.from(`${MARKER}\n`), Buffer.alloc(1024 * 1024 - MARKER.length - 1, 7)]));
const publisher = { ...env, STRATUSLAB_MARKETPLACE_ENDPOINT: server.url, STRATUSLAB_PDISK_ENDPOINT: server.url, STRATUSLAB_USERNAME: admin.username, STRATUSLAB_PASSWORD: admin.password };
ok(await runCli(['generate-p12', '-n', 'data maker', '-e', 'data.maker@example.org', '-o', 'maker.p12', '-p', 'secret'], { cwd: dir, home: dir }));
const uploaded = ok(await runCli(['upload-image', '--public', '--p12-cert', 'maker.p12', '--p12-password', 'secret', 'scratch-1.0-x86_64-data-1.0.img'], { cwd: dir, home: dir, env: publisher }));
const readonlyId = (/Manifest uploaded: \S+\/metadata\/([A-Za-z0-9_-]{27})\//.exec(uploaded.stdout) as RegExpExecArray)[1] as string;
for (const who of [alice, bob]) await addAccount(server.url, admin, who.username, who.password);

const v = await newVolume(asAlice);
let vmA = '';
let vmB = '';

test('run-instance refuses bad data disks before anything runs: someone else\'s volume, a volume for two VMs, a size out of range, a pdisk UUID as --readonly-disk', async () => {
  const bobs = await newVolume(asBob);
  const run = (...args: string[]): Promise<CliResult> => asAlice(['run-instance', '-k', `${key.path}.pub`, '--ram', '256', ...args, image.identifier]);
  refused(await run('--persistent-disk', bobs), new RegExp(`^  \\[ERROR\\] no volume ${bobs}\\n`));
  refused(await run('-n', '2', '--persistent-disk', v), /^ {2}\[ERROR\] disk cannot be attached; it is already mounted \(1\/2\)\n {2}hint: A volume its owner attaches read-write is in one VM at a time/);
  refused(await run('--volatile-disk', '0'), /--volatile-disk must be a whole number ≥ 1, not 0/);
  refused(await run('--volatile-disk', '4096'), /--volatile-disk must be a whole number of GB, 1-1024, not 4096/);
  refused(await run('--readonly-disk', v), /--readonly-disk takes a Marketplace ID \(or the URL of an entry\)/);
  refused(await run('--readonly-disk', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA'), /no valid metadata entry for image AAAAAAAAAAAAAAAAAAAAAAAAAAA/);
  assert.equal(ok(await asAlice(['describe-instance'])).stdout.trim().split('\n').length, 1, 'no instance was left');
  assert.equal((await volumeOf(v)).count, 0, 'nothing is recorded on the volume');
});

test('run-instance --persistent-disk --readonly-disk --volatile-disk: the guest boots from its own disk first, and finds the volume read-write, the image read-only and an empty disk of the size asked for', async (t) => {
  // Both at once: holding one while waiting for the other deadlocked with another test doing the same.
  const releaseSlots = await acquireGuestSlots(2);
  t.after(async () => {
    // Whatever happened: no guest outlives the test (the server leaves running VMs behind on purpose).
    for (const id of [vmA, vmB].filter(Boolean)) {
      await as(admin)(['kill-instance', id]);
      // A server that died mid-test cannot kill them: their QEMU goes by pid.
      for (const pid of qemuProcessesFor(`one-${id}`, join(dataDir, 'instances'))) process.kill(pid, 'SIGKILL');
    }
    releaseSlots();
  });
  const run = ok(await asAlice(['run-instance', '-q', '-k', `${key.path}.pub`, '--ram', '256', '--persistent-disk', v, '--readonly-disk', readonlyId, '--volatile-disk', '1', image.identifier]));
  vmA = (/^(\d+), /.exec(run.stdout) as RegExpExecArray)[1] as string;
  assert.equal(ok(await inGuest(asAlice, vmA, 'awk \'$2 == "/" { print $1 }\' /proc/mounts')).stdout.trim(), '/dev/vda2', 'the root file system is the boot disk\'s');

  const volume = await guestDisk(asAlice, vmA, v.slice(0, 20));
  assert.deepEqual([volume?.ro, volume?.sectors], ['0', 2 * 1024 * 1024], 'alice\'s volume: read-write, 1 GiB');
  const readonly = await guestDisk(asAlice, vmA, readonlyId.slice(0, 20));
  assert.deepEqual([readonly?.ro, readonly?.sectors, readonly?.head], ['1', 2048, MARKER], 'the Marketplace image: read-only, its own bytes');
  const volatile = await guestDisk(asAlice, vmA, 'volatile');
  assert.deepEqual([volatile?.ro, volatile?.sectors], ['0', 2 * 1024 * 1024], '--volatile-disk 1: 1 GiB');
  const write = await inGuest(asAlice, vmA, `dd if=/dev/zero of=/dev/${readonly?.dev} bs=512 count=1`);
  assert.notEqual(write.code, 0, 'the read-only disk cannot be written');
  ok(await inGuest(asAlice, vmA, `printf 'written-by-vm-A\\n' | dd of=/dev/${volume?.dev} bs=512 conv=sync && sync`));

  const checker = await api();
  const listed = await checker.call(ins.volumes, { auth: alice, params: { id: vmA } });
  assert.equal(listed.status, 200);
  assert.deepEqual((listed.json() as Array<{ volume: string; target: string; readOnly: boolean }>).map((a) => [a.volume, a.target, a.readOnly]), [[v, 'vdz', false]]);

  // Bob's guest, for what follows.
  const runB = ok(await asBob(['run-instance', '-q', '-k', `${key.path}.pub`, '--ram', '256', image.identifier]));
  vmB = (/^(\d+), /.exec(runB.stdout) as RegExpExecArray)[1] as string;

  await t.test('attack: bob attaches alice\'s private volume to his VM (404, as pdisk says), or his own volume to her VM (404)', async () => {
    refused(await asBob(['attach-volume', '-i', vmB, v]), new RegExp(`^  \\[ERROR\\] DISK ${v}: no volume ${v}\\n`));
    const bobs = await newVolume(asBob);
    refused(await asBob(['attach-volume', '-i', vmA, bobs]), new RegExp(`^  \\[ERROR\\] VM ${vmA} does not exist\\n`));
    refused(await asBob(['detach-volume', '-i', vmA, v]), new RegExp(`^  \\[ERROR\\] VM ${vmA} does not exist\\n`));
  });

  await t.test('attack: a volume attached read-write cannot go into a second VM, not even read-only once it is PUBLIC, nor at a second run', async () => {
    ok(await asAlice(['update-volume', '--public', v]));
    const second = await asBob(['attach-volume', '-i', vmB, v]);
    refused(second, new RegExp(`^  \\[ERROR\\] DISK ${v}: Disk not available\\n  hint: Its owner has it attached read-write to a VM; nobody else can attach it meanwhile\\.\\n$`));
    assert.equal(second.stdout, '');
    refused(await asAlice(['run-instance', '-k', `${key.path}.pub`, '--persistent-disk', v, image.identifier]),
      new RegExp(`disk cannot be attached; it is already mounted \\(0/1\\)\\n  hint: It is attached read-write to VM ${vmA}`));
    assert.equal(await guestDisk(asBob, vmB, v.slice(0, 20), true), undefined, 'bob\'s guest has no such disk');
  });

  await t.test('detach-volume, then the volume goes into bob\'s VM read-only with what A wrote; alice attaches it read-write again while he reads', async () => {
    assert.equal(ok(await asAlice(['detach-volume', '-i', vmA, v])).stdout, `DETACHED ${v} from VM ${vmA} on /dev/vdz\n`);
    assert.equal(await guestDisk(asAlice, vmA, v.slice(0, 20), true), undefined, 'gone from A');
    assert.equal(ok(await asBob(['attach-volume', '-i', vmB, v])).stdout, `ATTACHED ${v} in VM ${vmB} on /dev/vdz\n`);
    const seen = await guestDisk(asBob, vmB, v.slice(0, 20));
    assert.deepEqual([seen?.ro, seen?.head], ['1', 'written-by-vm-A'], 'bob reads it, read-only');
    assert.notEqual((await inGuest(asBob, vmB, `dd if=/dev/zero of=/dev/${seen?.dev} bs=512 count=1`)).code, 0, 'and cannot write it');
    const again = await (await api()).call(ins.attach, { auth: alice, params: { id: vmA }, json: { uuid: v } });
    assert.equal(again.status, 201);
    assert.deepEqual([(again.json() as { target: string }).target, (again.json() as { readOnly: boolean }).readOnly], ['vdz', false], 'bob\'s reading does not hold its owner back');
    assert.equal((await guestDisk(asAlice, vmA, v.slice(0, 20)))?.ro, '0');
  });

  await t.test('attack: a record bob makes by hand through pdisk on alice\'s VM id neither blocks her nor gives him anything', async () => {
    const w = await newVolume(asAlice, '--public');
    const claim = await fetch(`${server.url}/pswd/disks/${w}/mounts`, {
      method: 'POST', body: JSON.stringify({ node: 'localhost', vm_id: vmA }),
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${bob.username}:${bob.password}`).toString('base64')}` },
    });
    assert.equal(claim.status, 201);
    assert.equal(ok(await asAlice(['attach-volume', '-i', vmA, w])).stdout, `ATTACHED ${w} in VM ${vmA} on /dev/vdy\n`);
    assert.equal((await guestDisk(asAlice, vmA, w.slice(0, 20)))?.ro, '0');
  });

  await t.test('bad input to the commands: each disk gets its line, a machine image and a volume that is not attached are refused, -i and UUIDs are required', async () => {
    const vm = (JSON.parse(ok(await asAlice(['describe-instance', '--json', vmA])).stdout) as InstanceInfo[])[0] as InstanceInfo;
    const x = await newVolume(asAlice);
    const mixed = await asAlice(['attach-volume', '-i', vmA, x, vm.disk as string]);
    assert.equal(mixed.code, 1);
    assert.equal(mixed.stdout, `ATTACHED ${x} in VM ${vmA} on /dev/vdx\n`, 'the good disk is attached');
    assert.match(mixed.stderr, new RegExp(`^  \\[ERROR\\] DISK ${vm.disk}: Invalid disk state: MACHINE_IMAGE_LIVE\\. Only data volumes \\(DATA_IMAGE_\\*\\) attach to a VM\\.\\n`));
    assert.equal(ok(await asAlice(['detach-volume', '-i', vmA, x])).stdout, `DETACHED ${x} from VM ${vmA} on /dev/vdx\n`);
    refused(await asAlice(['detach-volume', '-i', vmA, x]), new RegExp(`^  \\[ERROR\\] DISK ${x}: not attached to VM ${vmA}\\n`));
    refused(await asAlice(['attach-volume', x]), /^ {2}\[ERROR\] Please provide a VM ID on which to attach disk\n/);
    refused(await asAlice(['attach-volume', '-i', vmA]), /^ {2}\[ERROR\] Please provide at least one persistent disk UUID to attach\n/);
    refused(await asAlice(['detach-volume', '-i', vmA, 'not-a-uuid']), /not-a-uuid/);
  });

  // Not in a subtest: the new server's clean-up (after()) must belong to this test, not end with a subtest.
  const running = [vmA, vmB].map((id) => qemuProcessesFor(`one-${id}`, join(dataDir, 'instances'))[0]);
  const stopped = Date.now();
  await server.stop();
  assert.ok(Date.now() - stopped < 15_000, `regression: stratus serve stopped in ${Date.now() - stopped} ms; it never exited while VMs ran (their QMP sockets and exit watch kept it alive)`);
  assert.deepEqual([vmA, vmB].map((id) => qemuProcessesFor(`one-${id}`, join(dataDir, 'instances'))[0]), running, 'the VMs run on');
  server = await startServerProcess(dataDir, [], env);

  await t.test('a server stopped and started again still knows what is attached, and detaches it from the adopted VM', async () => {
    const listed = await (await api()).call(ins.volumes, { auth: alice, params: { id: vmA } });
    assert.deepEqual((listed.json() as Array<{ volume: string; target: string }>).map((a) => a.target).sort(), ['vdy', 'vdz']);
    const w = (listed.json() as Array<{ volume: string; target: string }>).find((a) => a.target === 'vdy')?.volume as string;
    const detached = await (await api()).call(ins.detach, { auth: alice, params: { id: vmA, uuid: w } });
    assert.deepEqual([detached.status, (detached.json() as { target: string }).target], [200, 'vdy']);
    assert.equal(await guestDisk(asAlice, vmA, w.slice(0, 20), true), undefined, 'unplugged from the adopted QEMU');
    assert.equal((await guestDisk(asBob, vmB, v.slice(0, 20)))?.ro, '1', 'bob\'s read-only attachment is still there');
  });

  await t.test('the end of the VMs ends their attachments: shutdown and kill leave nothing recorded, nothing in QEMU, no volatile disk; attach to a VM that ended is refused', async () => {
    ok(await asBob(['shutdown-instance', vmB]));
    assert.equal((JSON.parse(ok(await asBob(['describe-instance', '--json', vmB])).stdout) as InstanceInfo[])[0]?.state, 'Done');
    assert.equal((await volumeOf(v)).count, 1, 'bob\'s attachment ended with his VM (shutdown, Epilog); alice\'s remains');
    ok(await asAlice(['kill-instance', vmA]));
    assert.equal((await volumeOf(v)).count, 0);
    assert.equal(existsSync(join(dataDir, 'instances', `one-${vmA}`)), false, 'the volatile disk went with the instance directory');
    for (const id of [vmA, vmB]) assert.deepEqual(qemuProcessesFor(`one-${id}`, join(dataDir, 'instances')), []);
    refused(await asAlice(['attach-volume', '-i', vmA, v]), new RegExp(`^  \\[ERROR\\] VM ${vmA} is not in running state\\n  hint: It is Done`));
    // Regression: the admin's own upload made the cache fail with "Disk already registered"; it is now the cached origin.
    const copies = (JSON.parse(ok(await as(admin)(['describe-volumes', '--json'])).stdout) as VolumeInfo[]).filter((x) => x.identifier === readonlyId);
    assert.deepEqual(copies.map((x) => [x.owner, x.type]), [['admin', 'DATA_IMAGE_RAW_READONLY']], 'the image cache read the admin\'s upload, and made no second copy');
  });
});
