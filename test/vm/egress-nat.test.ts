import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { tableName } from '../../src/network/firewall.js';
import { runCli, ok } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import type { ServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlots, sshKey } from '../helpers/vm.js';
import { forwardingOf, hostForwarding, ip, listenInNs, outsideNamespace } from '../helpers/netns.js';
import type { NsListener, Outside } from '../helpers/netns.js';

/**
 * `[network] egress` with a real guest: a ttylinux instance of `stratus serve --network bridge`
 * tries a listener in a network namespace that stands for the outside world (a veth of the
 * test's own on 198.18.0.0/15, routed from the host, so nothing leaves the machine). With
 * egress = none nothing arrives there; with egress = nat the connection arrives from the host's
 * address on that veth, once the host forwards what arrives on it (the admin's call, which the
 * server names at start-up). Either way the host's own ports stay shut to the guest.
 */
/** What the file sets up outside the server, for the clean-up to find whatever was made. */
const made: { outside?: Outside; listener?: NsListener; secret?: Server } = {};
/** Guests not yet killed: each test kills its own; a test that failed half-way leaves them here. */
const live = new Set<string>();
// Guests and servers end within each test (withServer); what is left here goes whatever failed.
after(async () => {
  const step = async (what: string, fn: () => unknown): Promise<void> => {
    try { await fn(); } catch (e) { process.stderr.write(`clean-up, ${what}: ${(e as Error).message}\n`); }
  };
  await step('listener', () => made.listener?.child.kill());
  await step('host service', () => made.secret?.close());
  await step('outside', () => made.outside?.remove());
});
const dir = tempDir();
const dataDir = join(dir, 'data');
const tag = randomBytes(3).toString('hex');
const bridge = `stn${tag}`;
mkdirSync(dataDir, { recursive: true });
// The package proxy runs as its own user: its folder must be reachable through the test's private one.
chmodSync(dir, 0o711);
const proxyPort = 20000 + (parseInt(tag, 16) % 12000);
const admin = { username: 'admin', password: 'admin-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
const key = sshKey(dir, 'id_rsa');

const port = 20000 + randomInt(10000);
const out = made.outside = await outsideNamespace(`stn${process.pid}`, port);
const seen = made.listener = await listenInNs(out.ns, out.address, port);
const secretSeen = { count: 0 };
const secret = made.secret = createServer((c) => { secretSeen.count++; c.end('host secret\n'); });
await new Promise<void>((r) => secret.listen(0, '0.0.0.0', r));
const secretPort = (secret.address() as AddressInfo).port;

const setUplink = (on: boolean): void => writeFileSync(`/proc/sys/net/ipv4/conf/${out.hostIf}/forwarding`, on ? '1\n' : '0\n');

/**
 * Runs `body` against a server with this egress, then kills the guests it started, even when
 * it failed half-way, and stops the server. (Stopped with guests running, a server leaves them,
 * their bridge and tables to its next start, as it should; here that start may never come.)
 */
async function withServer(egress: 'none' | 'nat', body: (s: ServerProcess) => Promise<void>): Promise<void> {
  writeFileSync(join(dataDir, 'stratus.cfg'), `[network]\nmode = bridge\nbridge = ${bridge}\negress = ${egress}\nproxy_port = ${proxyPort}\nproxy_dir = ${join(dir, 'proxy')}\n`);
  const s = await startServerProcess(dataDir, ['--network', 'bridge'], env);
  let failure: unknown;
  try {
    await body(s);
  } catch (e) {
    failure = e;
  }
  for (const id of [...live]) {
    try {
      await kill(s, id);
    } catch (e) {
      failure ??= e;
    }
  }
  await s.stop();
  if (failure !== undefined) throw failure;
}

const alice = (s: ServerProcess, args: string[]): ReturnType<typeof runCli> => runCli(args, {
  cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: s.url, STRATUSLAB_USERNAME: 'alice', STRATUSLAB_PASSWORD: 'alice-pass-1' },
});

/** Starts alice's ttylinux guest and returns its id and address. */
async function guest(s: ServerProcess, image: string): Promise<{ id: string; ip: string }> {
  const out = ok(await alice(s, ['run-instance', '--ram', '256', '-k', `${key.path}.pub`, image])).stdout;
  const m = /vm ID: (\d+)\)\n\tPublic ip: (\S+)/.exec(out);
  assert.ok(m, out);
  live.add(m[1] as string);
  return { id: m[1] as string, ip: m[2] as string };
}

async function kill(s: ServerProcess, id: string): Promise<void> {
  ok(await alice(s, ['kill-instance', id]));
  live.delete(id);
}

/**
 * From inside the guest (ssh as root), one TCP try per target: `label: <first line of the
 * answer>` or `label: no answer`. What should answer gets 15 s (a loaded host is slow), what
 * should not gets 3. The request's end is not the input's: apt-cacher-ng drops a client that
 * half-closes before it has answered (its reply came or not, by the host's load).
 */
async function triesFrom(s: ServerProcess, id: string, targets: Array<[string, string, number]>): Promise<Record<string, string>> {
  const script = targets.map(([label, host, p]) =>
    `r=$( (printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 2) | busybox nc -w ${label === 'outside' || label === 'proxy' ? 15 : 3} ${host} ${p} 2>/tmp/nc.err | head -1); echo "${label}: \${r:-no answer}"; `
    + `[ -n "$r" ] || echo "(${label}: $(cat /tmp/nc.err))"`).join('; ');
  const out = ok(await alice(s, ['connect-instance', '-k', key.path, id, '--', script])).stdout;
  const said: Record<string, string> = { raw: out + proxyLog() };
  for (const [label] of targets) said[label] = new RegExp(`^${label}: (.*)$`, 'm').exec(out)?.[1]?.trim() ?? `(no line in ${JSON.stringify(out)})`;
  return said;
}

/** The package proxy's own logs, for a failure message. */
function proxyLog(): string {
  const logs = join(dir, 'proxy', 'log');
  return existsSync(logs) ? readdirSync(logs).map((f) => `\n${f}:\n${readFileSync(join(logs, f), 'utf8').slice(-1500)}`).join('') : '';
}

/** The host's addresses on its default-route interfaces: ports there must refuse guests too. */
function uplinkAddresses(): string[] {
  const devs = (JSON.parse(ip('-j', '-4', 'route', 'show', 'default')) as Array<{ dev?: string }>).map((r) => r.dev).filter((d): d is string => !!d);
  return devs.flatMap((dev) => (JSON.parse(ip('-j', '-4', 'addr', 'show', 'dev', dev)) as Array<{ addr_info: Array<{ local: string }> }>).flatMap((l) => l.addr_info.map((a) => a.local)));
}

let imageId = '';

test('egress = none (the default): the guest\'s connection to a listener outside never arrives, even with the host forwarding on that uplink; the bridge does not forward and the host\'s sysctls are untouched', async (t) => {
  const before = hostForwarding();
  setUplink(true);
  t.after(await acquireGuestSlots(1));
  await withServer('none', async (s) => {
    assert.doesNotMatch(s.log(), /egress = nat/);
    imageId = (await publishRecipe(s.url, dataDir, 'ttylinux', { dir, env })).identifier;
    await addAccount(s.url, admin, 'alice', 'alice-pass-1');
    const g = await guest(s, imageId);
    assert.equal(forwardingOf(bridge), '0', 'the bridge does not forward');

    const said = await triesFrom(s, g.id, [['outside', out.address, port], ['proxy', g.ip.replace(/\.\d+$/, '.1'), proxyPort]]);
    assert.equal(said.outside, 'no answer', JSON.stringify(said));
    assert.match(said.proxy as string, /^HTTP\/1\.[01] /, `the package proxy is given: ${JSON.stringify(said)}`);
    assert.equal(out.packets(), 0, 'not one packet of the guest reached the outside');
    assert.deepEqual(seen.sources(), []);
    assert.deepEqual(hostForwarding(), before, 'egress = none writes no sysctl of the host');
    await kill(s, g.id);
  });
  setUplink(false);
});

test('egress = nat: stratus serve names the uplink sysctl it needs; with it off the guest\'s SYN leaves but no connection opens, with it on the listener outside sees the host\'s address, not the guest\'s; the host\'s other ports still refuse the guest; everything goes at stop', async (t) => {
  assert.ok(imageId, 'the first test published the image');
  const before = hostForwarding();
  setUplink(false);
  t.after(await acquireGuestSlots(1));
  await withServer('nat', async (s) => {
    const off = Object.keys(before).filter((k) => /^net\.ipv4\.conf\.(?!all\.|default\.)/.test(k) && before[k] === '0');
    for (const sysctl of off) assert.match(s.log(), new RegExp(`WARNING: \\[network\\] egress = nat, but ${sysctl.replace(/\./g, '\\.')} = 0: .*sysctl -w ${sysctl.replace(/\./g, '\\.')}=1`), s.log());
    const g = await guest(s, imageId);
    assert.equal(forwardingOf(bridge), '1', 'the bridge forwards');
    const hostAddress = g.ip.replace(/\.\d+$/, '.1');

    // The uplink (the test's veth) does not forward: replies to the guest are dropped on the host.
    const first = await triesFrom(s, g.id, [['outside', out.address, port]]);
    assert.equal(first.outside, 'no answer', JSON.stringify(first));
    assert.ok(out.packets() > 0, 'the SYN did leave, masqueraded');
    assert.deepEqual(seen.sources(), [], 'no connection opened');

    // As the warning says: forwarding on the uplink. The connection arrives, masqueraded.
    setUplink(true);
    const targets: Array<[string, string, number]> = [
      ['outside', out.address, port], ['proxy', hostAddress, proxyPort], ['bridge', hostAddress, secretPort], ['veth', out.hostAddress, secretPort],
      ...uplinkAddresses().map((a, i): [string, string, number] => [`uplink${i}`, a, secretPort]),
    ];
    const said = await triesFrom(s, g.id, targets);
    assert.equal(said.outside, 'hello from outside', JSON.stringify(said));
    assert.deepEqual(seen.sources(), [out.hostAddress], `the listener sees the host's address on the veth, not the guest's ${g.ip}`);
    assert.match(said.proxy as string, /^HTTP\/1\.[01] /, `the package proxy is still given: ${JSON.stringify(said)}`);
    for (const [label, host] of targets.slice(2)) assert.equal(said[label], 'no answer', `the host's port at ${host} refuses the guest: ${JSON.stringify(said)}`);
    assert.equal(secretSeen.count, 0, 'no connection from the guest reached the host service');
    await kill(s, g.id);
  });
  setUplink(false);
  assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', bridge], { stdio: 'pipe' }), 'no bridge left');
  assert.doesNotMatch(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), new RegExp(tableName(bridge)), 'no table left');
  assert.deepEqual(hostForwarding(), before, 'egress = nat wrote no sysctl of the host\'s own');
});
