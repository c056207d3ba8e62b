/**
 * An instance's VNC server, as another local user would attack it, on a real `stratus serve`:
 * the screen and keyboard of alice's VM are one TCP connection away for anyone on the host, so
 * the server must ask for a password, and no one but alice may learn it: not bob (her VM does
 * not exist for him), not the admin looking on, not the files beside the instance. The instance
 * boots a disk that halts at once (test/helpers/halt-disk.ts): a real QEMU and VNC server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';
import { addAccount } from '../helpers/cloud.js';
import { haltOrigin } from '../helpers/halt-disk.js';
import { ok, runCli } from '../helpers/cli.js';
import { assertError, call } from '../helpers/pdisk.js';
import { RFB_NONE, RFB_VNC_AUTH, rfbGreeting, vncAuthenticate } from '../helpers/rfb.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ADMIN = { username: 'admin', password: 'admin-vncsec-password' };
const ALICE = { username: 'alice', password: 'alice-vncsec-password' };
const BOB = { username: 'bob', password: 'bob-vncsec-password' };

const work = tempDir('stratus-vnc-attack-');
const dataDir = join(work, 'data');
const server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
for (const who of [ALICE, BOB]) await addAccount(server.url, ADMIN, who.username, who.password);
const keyFile = join(work, 'id.pub');
writeFileSync(keyFile, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVuY2hlY2tlZCBrZXkgZm9yIHRoZSB2bmMgdGVzdA vnc-test\n');

function as(who: { username: string; password: string }, args: string[]): ReturnType<typeof runCli> {
  return runCli(args, { cwd: work, home: work, env: { STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: who.username, STRATUSLAB_PASSWORD: who.password } });
}

const image = await haltOrigin(server.url, ALICE);
const id = Number(ok(await as(ALICE, ['run-instance', '-q', '-k', keyFile, '--ram', '32', image])).stdout.split(',')[0]);
const mine = (JSON.parse(ok(await as(ALICE, ['describe-instance', '--json', String(id)])).stdout) as InstanceInfo[])[0] as InstanceInfo;
const vnc = mine.vnc as { address: string; port: number; password: string };

test('the owner is told the endpoint and the password, in the JSON and in describe-instance -vvv', async () => {
  assert.equal(mine.state, 'Running');
  assert.equal(vnc.address, '127.0.0.1', 'loopback by default');
  assert.match(vnc.password, /^[A-Za-z2-9]{8}$/);
  const all = ok(await as(ALICE, ['describe-instance', '-vvv', String(id)])).stdout.split('\n');
  for (const line of [`  vnc_address = 127.0.0.1`, `  vnc_port = ${vnc.port}`, `  vnc_password = ${vnc.password}`]) assert.ok(all.includes(line), `${line} in:\n${all.join('\n')}`);
});

test('attack: bob connects to the port: the server offers VNC authentication only (never None), and his guesses fail', async () => {
  const greeting = await rfbGreeting(vnc.address, vnc.port);
  assert.equal(greeting.banner, 'RFB 003.008\n');
  assert.deepEqual(greeting.types, [RFB_VNC_AUTH]);
  assert.ok(!greeting.types.includes(RFB_NONE));
  for (const guess of ['', 'password', vnc.password.slice(0, 7), vnc.password.toUpperCase() === vnc.password ? vnc.password.toLowerCase() : vnc.password.toUpperCase()]) {
    const tried = await vncAuthenticate(vnc.address, vnc.port, guess);
    assert.equal(tried.ok, false, `the guess ${JSON.stringify(guess)} was let in`);
  }
  assert.equal((await vncAuthenticate(vnc.address, vnc.port, vnc.password)).ok, true, 'the owner\'s password still opens it');
});

test("attack: bob asks the API and the commands for alice's VM: it does not exist for him, and nothing he gets carries the password", async () => {
  const answers = [
    await call(server.url, 'GET', `/instances/${id}`, BOB),
    await call(server.url, 'GET', `/instances/${id}/context`, BOB),
    await call(server.url, 'GET', `/instances/${id}/console`, BOB),
  ];
  for (const a of answers) assertError(a, 404, 'INSTANCE_NOT_FOUND', `VM ${id} does not exist`);
  const list = await call(server.url, 'GET', '/instances', BOB);
  assert.equal(list.text, '[]');
  const peek = await as(BOB, ['describe-instance', '-vvv', String(id)]);
  assert.equal(peek.code, 1);
  for (const text of [...answers.map((a) => a.text), list.text, peek.stdout, peek.stderr]) assert.ok(!text.includes(vnc.password), 'no password in what bob gets');
});

test('the admin sees the endpoint of every VM, but not its password: the owner alone holds it', async () => {
  const one = JSON.parse((await call(server.url, 'GET', `/instances/${id}`, ADMIN)).text) as InstanceInfo;
  assert.deepEqual(one.vnc, { address: vnc.address, port: vnc.port });
  const list = await call(server.url, 'GET', '/instances', ADMIN);
  assert.deepEqual((JSON.parse(list.text) as InstanceInfo[]).find((i) => i.id === id)?.vnc, { address: vnc.address, port: vnc.port });
  const context = await call(server.url, 'GET', `/instances/${id}/context`, ADMIN);
  const all = await as(ADMIN, ['describe-instance', '-vvv', String(id)]);
  for (const text of [list.text, context.text, ok(all).stdout]) assert.ok(!text.includes(vnc.password), 'no password in what the admin gets');
  assert.ok(ok(all).stdout.split('\n').includes(`  vnc_port = ${vnc.port}`));
});

test('the password is written nowhere beside the instance (QEMU keeps it in memory, set over QMP)', () => {
  const dir = join(dataDir, 'instances', `one-${id}`);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    assert.ok(!readFileSync(path).includes(vnc.password), `${name} holds the VNC password`);
  }
});

// Last, and run whatever failed above: the server leaves its VMs running when it stops.
test('kill ends the VM and its VNC server with it', async () => {
  ok(await as(ALICE, ['kill-instance', String(id)]));
  await assert.rejects(rfbGreeting(vnc.address, vnc.port));
  assert.equal((JSON.parse((await call(server.url, 'GET', `/instances/${id}`, ALICE)).text) as InstanceInfo).vnc, null);
});
