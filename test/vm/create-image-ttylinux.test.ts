/**
 * stratus-create-image on ttylinux with a script only (reference §3, the seed's "Creating
 * Images"): the seed's step lines in order, then the cloud's Epilog saves the disk as a new
 * volume; a failing script gives StratusLab's message with its last lines and leaves nothing;
 * Ctrl-C in the middle kills the VM. Nothing here is ttylinux's own but the absence of
 * packages (it has no installer) and of scp on the guest (dropbear has none: the copy goes
 * through ssh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { runCli, ok } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { cliPath } from '../helpers/paths.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlots, sshKey } from '../helpers/vm.js';
import { volumeFile } from '../helpers/saved-image.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import type { VolumeInfo } from '../../src/domain/volume.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
const admin = { username: 'admin', password: 'admin-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
const server = await startServerProcess(dataDir, [], env);
const key = sshKey(dir);
const image = await publishRecipe(server.url, dataDir, 'ttylinux', { dir, env });
await addAccount(server.url, admin, 'alice', 'alice-pass-1');
const aliceEnv = { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: 'alice', STRATUSLAB_PASSWORD: 'alice-pass-1' };
const REQUIRED = ['--title', 'ttylinux with cloud.txt', '--comment', 'writes /root/cloud.txt', '--author', 'Joe Builder', '--author-email', 'builder@example.org'];
const createArgs = (args: string[]): string[] => ['create-image', '-k', `${key.path}.pub`, '--ram', '256', ...REQUIRED, ...args, image.identifier];

writeFileSync(join(dir, 'setup.sh'), '#!/bin/sh\n# the guide\'s advice: no cached network rules\nrm -f /lib/udev/rules.d/*net-gen* /etc/udev/rules.d/*net.rules\necho "args: $*" > /root/args.txt\necho Cloudy Weather Expected > /root/cloud.txt\n');
writeFileSync(join(dir, 'fail.sh'), '#!/bin/sh\necho "first line"\necho "second line"\necho "it broke" >&2\nexit 3\n');
writeFileSync(join(dir, 'slow.sh'), '#!/bin/sh\necho sleeping\nsleep 300\n');

function alice(args: string[]): Promise<CliResult> {
  return runCli(args, { cwd: dir, home: dir, env: aliceEnv });
}

async function instance(id: number): Promise<InstanceInfo> {
  const [vm] = JSON.parse(ok(await alice(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo[];
  assert.ok(vm);
  return vm;
}

async function volumes(): Promise<VolumeInfo[]> {
  return JSON.parse(ok(await alice(['describe-volumes', '--json'])).stdout) as VolumeInfo[];
}

function vmIdOf(stdout: string): number {
  const m = / :: Machine 1 \(vm ID: (\d+)\)/.exec(stdout);
  assert.ok(m, stdout);
  return Number(m[1]);
}

test('a script only: the seed\'s steps in order, then the Epilog saves a volume with the new identifier; the script\'s arguments reach it as words, not as shell', async (t) => {
  const release = await acquireGuestSlots(1);
  t.after(release);
  // The last argument would run a second command if it reached the remote shell unquoted.
  const r = await alice(createArgs(['-s', 'setup.sh x;echo${IFS}PWNED-MARKER>/root/pwned']));
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const id = vmIdOf(r.stdout);
  t.after(async () => { await alice(['kill-instance', String(id)]); });
  const expected = new RegExp([
    '^\\n :{29}\\n :: Starting image creation ::\\n :{29}',
    ' :: Checking that base image exists',
    ' :: Retrieving image manifest',
    ' :: Starting base image',
    '\\n :{25}\\n :: Starting machine\\(s\\) ::\\n :{25}',
    ' :: Starting 1 machine',
    ` :: Machine 1 \\(vm ID: ${id}\\)`,
    '\\tPublic ip: (\\S+)',
    ' :: Done!',
    ' :: Waiting for machine to boot',
    '\\.+',
    ' :: Waiting for machine network to start',
    '\\.+',
    ' :: Check if we can connect to the machine',
    ' :: Executing user prerecipe',
    ' :: Executing user recipe',
    ' :: Executing user scripts',
    'Connection to \\1 closed\\.',
    '\\n :{40}\\n :: Finished building image increment\\. ::\\n :{40}',
    '\\n :{72}\\n :: Please check builder@example\\.org for new image ID and instruction\\. ::\\n :{72}',
    ' :: Shutting down machine\\n$',
  ].join('\\n'));
  assert.match(r.stdout, expected);
  assert.match(r.stderr, / {2}\[WARNING\] Image availability check is disabled\./);

  const done = await instance(id);
  assert.equal(done.state, 'Done', `message: ${String(done.message)}\n${server.log()}`);
  assert.match(done.name, /^creator: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  const m = /^MARKETPLACE_AND_IMAGEID \S+ ([A-Za-z0-9_-]{27})$/.exec(done.message ?? '');
  assert.ok(m, `message: ${String(done.message)}`);
  const saved = (await volumes()).find((v) => v.identifier === m[1]);
  assert.ok(saved, `no volume with identifier ${m[1]}`);
  assert.deepEqual([saved.owner, saved.type, saved.tag], ['alice', 'MACHINE_IMAGE_ORIGIN', 'ttylinux with cloud.txt']);
  // The saved qcow2 stores the guest's clusters as they are: its text is in the file.
  const disk = readFileSync(volumeFile(dataDir, saved));
  assert.ok(disk.includes(Buffer.from('Cloudy Weather Expected\n')), 'the script ran in the guest and its file is on the saved disk');
  assert.ok(disk.includes(Buffer.from('args: x;echo${IFS}PWNED-MARKER>/root/pwned\n')), 'the argument arrived as one word, as given');
  assert.ok(!disk.includes(Buffer.from('PWNED-MARKER\n')), 'no second command ran');
  assert.deepEqual(JSON.parse(ok(await alice(['describe-instance', '--json'])).stdout), [], 'no instance left');
});

test('a failing script: StratusLab\'s message with the script\'s last lines, exit 1, the VM killed (Done, no image) and no volume made', async (t) => {
  const release = await acquireGuestSlots(1);
  t.after(release);
  const before = (await volumes()).map((v) => v.uuid).sort();
  const r = await alice(createArgs(['-s', 'setup.sh,fail.sh now']));
  assert.equal(r.code, 1, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const id = vmIdOf(r.stdout);
  t.after(async () => { await alice(['kill-instance', String(id)]); });
  assert.equal(r.stderr.split('\n').filter((l) => !l.includes('[WARNING]')).slice(0, 5).join('\n'), [
    '  [ERROR] An error occurred while executing script fail.sh now',
    '    exit status 3; its last lines:',
    '    | first line',
    '    | second line',
    '    | it broke',
  ].join('\n'));
  assert.match(r.stdout, /first line\r?\nsecond line\r?\nit broke/, 'the script\'s output was shown as it ran');
  assert.doesNotMatch(r.stdout, /Finished building image increment|Shutting down machine/);
  const killed = await instance(id);
  assert.equal(killed.state, 'Done');
  assert.equal(killed.message, null, 'killed: no MARKETPLACE_AND_IMAGEID');
  assert.deepEqual((await volumes()).map((v) => v.uuid).sort(), before, 'no new volume');
  assert.deepEqual(JSON.parse(ok(await alice(['describe-instance', '--json'])).stdout), [], 'no instance left');
});

/** Runs create-image and sends `signal` once, when its output first holds `when`; its exit code and output. */
async function interrupted(args: string[], when: string, signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...createArgs(args)], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...aliceEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const code = await new Promise<number | null>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Once: a second Ctrl-C ends the process at once, clean-up or not.
      if (!sent && stdout.includes(when)) {
        sent = true;
        child.kill(signal);
      }
    });
    child.on('close', (c) => resolve(c));
  });
  return { code, stdout, stderr };
}

test('Ctrl-C while a script runs: the goodbye, the VM killed, no image', async (t) => {
  const release = await acquireGuestSlots(1);
  t.after(release);
  const before = (await volumes()).map((v) => v.uuid).sort();
  const r = await interrupted(['-s', 'slow.sh'], 'sleeping', 'SIGINT');
  const id = vmIdOf(r.stdout);
  t.after(async () => { await alice(['kill-instance', String(id)]); });
  assert.equal(r.code, 130, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.match(r.stderr, /Execution interrupted by the user\.\.\. goodbye!/);
  assert.match(r.stderr, new RegExp(`Interrupted: killing VM ${id}; nothing is saved`));
  assert.doesNotMatch(r.stderr, /\[ERROR\]/, 'the script cut off by the kill is not reported as a failure');
  const killed = await instance(id);
  assert.deepEqual([killed.state, killed.message], ['Done', null]);
  assert.deepEqual((await volumes()).map((v) => v.uuid).sort(), before, 'no new volume');
});

test('SIGTERM while the cloud is still starting the VM: it is killed as soon as its ID is known', async (t) => {
  const release = await acquireGuestSlots(1);
  t.after(release);
  const before = (await volumes()).map((v) => v.uuid).sort();
  const r = await interrupted(['-s', 'slow.sh'], ' :: Starting 1 machine', 'SIGTERM');
  assert.equal(r.code, 143, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const m = /Interrupted: killing VM (\d+); nothing is saved/.exec(r.stderr);
  assert.ok(m, r.stderr);
  const id = Number(m[1]);
  t.after(async () => { await alice(['kill-instance', String(id)]); });
  const killed = await instance(id);
  assert.deepEqual([killed.state, killed.message], ['Done', null]);
  assert.deepEqual(JSON.parse(ok(await alice(['describe-instance', '--json'])).stdout), [], 'no instance left');
  assert.deepEqual((await volumes()).map((v) => v.uuid).sort(), before, 'no new volume');
});
