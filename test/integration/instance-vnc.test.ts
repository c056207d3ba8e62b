/**
 * run-instance's --vnc-port and --vnc-listen against a real `stratus serve`: refusals come
 * before anything is made (no instance row, snapshot volume, instance directory or QEMU), a port
 * asked for is the one QEMU listens on, and -1 takes the first free port of the site's range.
 * The instances boot a disk that halts at once (test/helpers/halt-disk.ts): real QEMU, real VNC
 * servers, no guest worth a slot.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import type { VolumeInfo } from '../../src/domain/volume.js';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import { ok, runCli } from '../helpers/cli.js';
import { addAccount } from '../helpers/cloud.js';
import { haltOrigin } from '../helpers/halt-disk.js';
import { RFB_VNC_AUTH, rfbGreeting, vncAuthenticate } from '../helpers/rfb.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { DocumentChecker } from '../helpers/openapi-check.js';
import type { OpenApiDocument } from '../helpers/openapi-check.js';
import { instanceRoutes as ins } from '../../src/domain/routes/index.js';

const ADMIN = { username: 'admin', password: 'admin-vnc-password' };
const ALICE = { username: 'alice', password: 'alice-vnc-password' };

/** Three consecutive free ports (ephemeral ones, so above 5900): the site's VNC range here. */
async function freeRange(n: number): Promise<number> {
  for (;;) {
    const first = await listen(0);
    const port = (first.address() as { port: number }).port;
    const rest: Server[] = [];
    try {
      for (let i = 1; i < n; i++) rest.push(await listen(port + i));
      return port;
    } catch {
      // taken: try another start
    } finally {
      await Promise.all([first, ...rest].map(closeServer));
    }
  }
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(s));
  });
}

const closeServer = (s: Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

const work = tempDir('stratus-vnc-');
const dataDir = join(work, 'data');
const range = await freeRange(3);
mkdirSync(dataDir, { recursive: true });
// 192.0.2.0/24 (TEST-NET-1) is allowed, but is no address of this host.
writeFileSync(join(dataDir, 'stratus.cfg'), `[instances]\nvnc_ports = ${range}-${range + 2}\nvnc_listen_allowed = 192.0.2.0/24\n`);
let server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
await addAccount(server.url, ADMIN, ALICE.username, ALICE.password);
const image = await haltOrigin(server.url, ALICE);
const keyFile = join(work, 'id.pub');
writeFileSync(keyFile, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVuY2hlY2tlZCBrZXkgZm9yIHRoZSB2bmMgdGVzdA vnc-test\n');

function alice(args: string[]): ReturnType<typeof runCli> {
  return runCli(args, { cwd: work, home: work, env: { STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: ALICE.username, STRATUSLAB_PASSWORD: ALICE.password } });
}

const run = (...vnc: string[]): ReturnType<typeof runCli> => alice(['run-instance', '-q', '-k', keyFile, '--ram', '32', ...vnc, image]);

async function vm(id: number): Promise<InstanceInfo> {
  return (JSON.parse(ok(await alice(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo[])[0] as InstanceInfo;
}

/** QEMU processes of this server's instances. */
function qemus(): number[] {
  try {
    return execFileSync('pgrep', ['-f', `${dataDir}/instances/`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Everything a run makes: instance rows (the admin sees all), volumes, instance directories, QEMU. */
async function made(): Promise<{ instances: number; volumes: string[]; dirs: string[]; qemus: number[] }> {
  const instances = (JSON.parse(ok(await runCli(['describe-instance', '--json'], {
    cwd: work, home: work, env: { STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: ADMIN.username, STRATUSLAB_PASSWORD: ADMIN.password },
  })).stdout) as InstanceInfo[]).length;
  const volumes = (await new PdiskClient(server.url, ADMIN).list()).map((v: VolumeInfo) => v.uuid).sort();
  const instancesDir = join(dataDir, 'instances');
  return { instances, volumes, dirs: existsSync(instancesDir) ? readdirSync(instancesDir) : [], qemus: qemus() };
}

/** A refused run: exit 1, the exact error line, and nothing made. */
async function refused(args: string[], message: string): Promise<void> {
  const before = await made();
  const r = await run(...args);
  assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  assert.equal(r.stderr.split('\n')[0], `  [ERROR] ${message}`, r.stderr);
  assert.deepEqual(await made(), before, `${args.join(' ')} left nothing behind`);
}

test('refused before anything is made: a non-loopback address the site does not allow, a port outside its range, a port in use, a bad value', async () => {
  await refused(['--vnc-listen', '10.1.2.3'], 'VNC listen address 10.1.2.3 is not allowed on this cloud: only loopback addresses (127.0.0.0/8, ::1) and 192.0.2.0/24 are');
  await refused(['--vnc-listen', '0.0.0.0'], 'VNC listen address 0.0.0.0 is not allowed on this cloud: only loopback addresses (127.0.0.0/8, ::1) and 192.0.2.0/24 are');
  await refused(['--vnc-listen', '192.0.2.7'], 'VNC listen address 192.0.2.7 is not an address of this host');
  await refused(['--vnc-listen', 'localhost'], '--vnc-listen must be an IP address (such as 127.0.0.1 or ::1), not "localhost"');
  await refused(['--vnc-port', '5900'], `VNC port 5900 is outside this cloud's VNC ports ${range}-${range + 2}`);
  await refused(['--vnc-port', 'any'], '--vnc-port must be -1 (the cloud picks a free port) or a port number, not any');
  await refused(['-n', '2', '--vnc-port', String(range)], `--vnc-port ${range} is one port, but 2 VMs were asked for`);
  const holder = await listen(range);
  try {
    await refused(['--vnc-port', String(range)], `VNC port ${range} on 127.0.0.1 is in use (by another instance or program)`);
  } finally {
    await closeServer(holder);
  }
  const hint = (await run('--vnc-listen', '10.1.2.3')).stderr;
  assert.match(hint, /vnc_listen_allowed/, 'the hint names the setting that would allow it');
});

test('a port asked for is the one QEMU listens on, with VNC authentication; -1 takes the first free port of the range, and a full range is refused', async (t) => {
  const ids: number[] = [];
  t.after(async () => {
    for (const id of ids) await alice(['kill-instance', String(id)]);
  });
  const started = async (...vnc: string[]): Promise<InstanceInfo> => {
    const r = ok(await run(...vnc));
    const id = Number(r.stdout.split(',')[0]);
    ids.push(id);
    return vm(id);
  };
  const second = await started('--vnc-port', String(range + 1));
  assert.equal(second.state, 'Running');
  assert.deepEqual({ address: second.vnc?.address, port: second.vnc?.port }, { address: '127.0.0.1', port: range + 1 });
  const greeting = await rfbGreeting('127.0.0.1', range + 1);
  assert.equal(greeting.banner, 'RFB 003.008\n');
  assert.deepEqual(greeting.types, [RFB_VNC_AUTH], 'VNC authentication only, never None');
  const session = await vncAuthenticate('127.0.0.1', range + 1, second.vnc?.password as string);
  assert.equal(session.ok, true, 'the password describe-instance gave opens it');
  assert.equal(session.desktop?.name, `QEMU (one-${second.id})`, 'onto that instance\'s screen');

  // The answers with an endpoint, with and without the password, are what /openapi.json says.
  const api = new DocumentChecker(server.url, await (await fetch(`${server.url}/openapi.json`)).json() as OpenApiDocument);
  for (const auth of [ALICE, ADMIN]) {
    assert.equal((await api.call(ins.get, { auth, params: { id: String(second.id) } })).status, 200);
    assert.equal((await api.call(ins.list, { auth })).status, 200);
  }

  await refused(['--vnc-port', String(range + 1)], `VNC port ${range + 1} on 127.0.0.1 is in use (another instance asked for it)`);
  const holder = await listen(range);
  try {
    const picked = await started('--vnc-port', '-1');
    assert.equal(picked.vnc?.port, range + 2, 'the first free port: one is held by a program, one by an instance');
    assert.equal((await rfbGreeting('127.0.0.1', range + 2)).banner, 'RFB 003.008\n');
    await refused([], `no free VNC port for the VM in this cloud's range ${range}-${range + 2} on 127.0.0.1: 0 free`);
  } finally {
    await closeServer(holder);
  }
  for (const id of ids.splice(0)) ok(await alice(['kill-instance', String(id)]));
  assert.deepEqual(qemus(), [], 'no QEMU left');
  await assert.rejects(rfbGreeting('127.0.0.1', range + 1), 'the VNC server went with its instance');
});

test('IPv6 loopback, and a restarted server adopts the running VM with its VNC server: same endpoint, same password', async (t) => {
  const id = Number(ok(await run('--vnc-listen', '::1')).stdout.split(',')[0]);
  t.after(async () => {
    await alice(['kill-instance', String(id)]);
  });
  const before = (await vm(id)).vnc;
  assert.equal(before?.address, '::1');
  assert.deepEqual((await rfbGreeting('::1', before?.port as number)).types, [RFB_VNC_AUTH]);
  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));
  server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
  const adopted = await vm(id);
  assert.equal(adopted.state, 'Running');
  assert.deepEqual(adopted.vnc, before, 'QEMU, asked again, reports the same port; the password is the one kept for the owner');
  assert.equal((await vncAuthenticate('::1', before?.port as number, before?.password as string)).ok, true, 'and it still opens the screen');
  ok(await alice(['kill-instance', String(id)]));
  assert.deepEqual(qemus(), [], 'no QEMU left');
});

test('a server whose VNC settings are wrong does not start, and says which key', async () => {
  const bad = join(work, 'bad');
  mkdirSync(bad, { recursive: true });
  writeFileSync(join(bad, 'stratus.cfg'), '[instances]\nvnc_ports = 5000-5999\n');
  await assert.rejects(startServerProcess(bad, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password }),
    /\[instances\] vnc_ports = 5000-5999 is not a port range within 5900-65535, such as 5900-5999/);
});
