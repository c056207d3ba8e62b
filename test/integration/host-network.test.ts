import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HostNetwork, dhcpDir, tapName } from '../../src/network/host-network.js';
import { tableName } from '../../src/network/firewall.js';
import { PackageProxy } from '../../src/network/package-proxy.js';
import { lookup } from 'node:dns/promises';
import { tempDir } from '../helpers/tmp.js';
import { connectFrom, guestNamespace, inNs, ip } from '../helpers/netns.js';

/**
 * The host-only network with real packets: network namespaces stand in for guests (a veth
 * whose peer lives in the namespace is the guest's NIC), real listeners answer or do not.
 * Only interfaces, namespaces and tables this test creates are touched, all removed at the end.
 */
const tag = randomBytes(3).toString('hex');
const bridge = `stt${tag}`;
const namespaces: string[] = [];

/** A namespace guest, removed with the others at the end. */
async function guest(net: HostNetwork, name: string, owner: string, mac: string): Promise<{ ns: string; address: string }> {
  const ns = `sttns${tag}${name}`;
  namespaces.push(ns);
  return guestNamespace(net, ns, `stp${tag}${name}`.slice(0, 15), name, owner, mac);
}

/** Connects from the host and returns what the service said, or 'blocked'. */
function connectHost(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({ host, port });
    let said = '';
    c.setTimeout(5000, () => { c.destroy(); resolve('blocked'); });
    c.on('data', (d) => { said += d.toString(); });
    c.on('end', () => resolve(said));
    c.on('error', () => resolve('blocked'));
  });
}

function listen(host: string, port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer((c) => c.end('hello\n'));
    srv.once('error', reject);
    srv.listen({ host, port }, () => resolve(srv));
  });
}

const portOf = (s: Server): number => (s.address() as { port: number }).port;

/** A listener inside a namespace (the guest's own service). */
function listenIn(ns: string, port: number): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `require('net').createServer(c=>c.end('hi')).listen(${port},()=>console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  return child;
}

async function waitUp(child: ChildProcess): Promise<void> {
  await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
}

function isDnsmasq(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('dnsmasq');
  } catch {
    return false;
  }
}

function tables(): string {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
}

test('host network: guests reach DHCP and the proxy only, the host reaches every guest port, owners are kept apart, and everything goes at close', async (t) => {
  const stateDir = join(tempDir(), 'net');
  const listeners: Server[] = [];
  const children: ChildProcess[] = [];
  let net: HostNetwork | undefined;
  t.after(async () => {
    for (const c of children) c.kill();
    for (const l of listeners) l.close();
    await net?.close().catch(() => undefined);
    for (const ns of namespaces) try { ip('netns', 'del', ns); } catch { /* gone */ }
  });
  // The proxy port is chosen before the bridge exists; the listener binds once it does.
  const proxyPort = 30000 + (parseInt(tag, 16) % 20000);
  net = await HostNetwork.open({ stateDir, bridge, pool: '10.213.0.0/16', proxyPort });
  assert.match(net.subnet, /^10\.213\.\d+\.0\/24$/);
  assert.match(ip('-j', 'link', 'show', 'dev', bridge), new RegExp(`"ifalias":"stratus:${stateDir}"`), 'the bridge carries its owner mark');
  assert.match(tables(), new RegExp(`table inet ${tableName(bridge)}\\n`));
  assert.match(tables(), new RegExp(`table bridge ${tableName(bridge)}\\n`));

  const proxy = await listen(net.hostAddress, proxyPort);
  const other = await listen('0.0.0.0');
  listeners.push(proxy, other);

  const a1 = await guest(net, 'a1', 'alice', '52:54:00:0a:00:01');
  const a2 = await guest(net, 'a2', 'alice', '52:54:00:0a:00:02');
  const b1 = await guest(net, 'b1', 'bob', '52:54:00:0b:00:01');
  assert.deepEqual([a1.address, a2.address, b1.address].map((a) => a.split('.')[3]), ['10', '11', '12']);
  for (const g of [a1, a2, b1]) {
    const l = listenIn(g.ns, 8080);
    children.push(l);
    await waitUp(l);
  }

  // Given: the proxy. Not given: any other port of the host, even one listening on 0.0.0.0.
  assert.equal(connectFrom(a1.ns, net.hostAddress, proxyPort), 'open', 'the guest reaches the package proxy');
  assert.equal(connectFrom(a1.ns, net.hostAddress, portOf(other)), 'blocked', 'another host port is out of reach');
  // The host reaches every port of every guest (the instance address is its public IP).
  for (const g of [a1, a2, b1]) assert.equal(await connectHost(g.address, 8080), 'hi', `the host reaches ${g.address}:8080`);
  // Same owner: reachable. Another owner: not, both ways.
  assert.equal(connectFrom(a1.ns, a2.address, 8080), 'open', 'alice\'s guests reach each other');
  assert.equal(connectFrom(b1.ns, a1.address, 8080), 'blocked', 'bob\'s guest cannot reach alice\'s');
  assert.equal(connectFrom(a1.ns, b1.address, 8080), 'blocked', 'alice\'s guest cannot reach bob\'s');

  // Spoofing: bob's guest takes alice's address; it reaches nothing, not even the proxy.
  inNs(b1.ns, 'ip', 'addr', 'flush', 'dev', `stp${tag}b1`);
  inNs(b1.ns, 'ip', 'addr', 'add', `${a2.address}/24`, 'dev', `stp${tag}b1`);
  assert.equal(connectFrom(b1.ns, net.hostAddress, proxyPort), 'blocked', 'a forged source address is dropped');

  // Detach: the port, its lease, its rules and the host's neighbour entry go; the others stay.
  // (The next instance given the address would otherwise be sent frames for the old MAC until that entry failed.)
  // The entry is set here (as ARP leaves it) rather than read: the kernel may have dropped it already.
  ip('neigh', 'replace', a2.address, 'lladdr', '52:54:00:0a:00:02', 'dev', bridge, 'nud', 'stale');
  await net.detach('a2');
  assert.throws(() => ip('link', 'show', 'dev', tapName(bridge, 'a2')));
  assert.equal(ip('neigh', 'show', 'to', a2.address, 'dev', bridge).trim(), '', 'the host forgot a2\'s MAC');
  assert.doesNotMatch(readFileSync(join(dhcpDir(bridge), 'dhcp-hosts'), 'utf8'), /52:54:00:0a:00:02/);
  assert.match(readFileSync(join(dhcpDir(bridge), 'dhcp-hosts'), 'utf8'), /52:54:00:0a:00:01,10\.213\.\d+\.10,/);

  const dnsmasqPid = Number(readFileSync(join(dhcpDir(bridge), 'dnsmasq.pid'), 'utf8'));
  await net.close();
  net = undefined;
  assert.throws(() => ip('link', 'show', 'dev', bridge), 'the bridge is gone');
  assert.doesNotMatch(tables(), new RegExp(tableName(bridge)), 'both tables are gone');
  assert.ok(!isDnsmasq(dnsmasqPid), 'dnsmasq is gone');
  assert.ok(!existsSync(stateDir));
});

test('host network: an interface Stratus did not create is never adopted or removed', async (t) => {
  const foreign = `stf${tag}`;
  ip('link', 'add', foreign, 'type', 'bridge');
  t.after(() => { try { ip('link', 'del', foreign); } catch { /* gone */ } });
  await assert.rejects(HostNetwork.open({ stateDir: join(tempDir(), 'net'), bridge: foreign }), /interface stf\w+ exists and was not made by this Stratus server/);
  ip('link', 'show', 'dev', foreign); // still there
  assert.doesNotMatch(tables(), new RegExp(tableName(foreign)));
  await assert.rejects(HostNetwork.open({ stateDir: join(tempDir(), 'net'), bridge: 'bad name!' }), /not a valid interface name/);
  await assert.rejects(HostNetwork.open({ stateDir: join(tempDir(), 'net'), bridge: `stg${tag}`, subnet: '10.213.5.0/23' }), /not an IPv4 \/24 network/);
});

test('host network: instances attached at the same moment get addresses of their own (regression: a VM and its booted base were both given .10)', async (t) => {
  const net = await HostNetwork.open({ stateDir: join(tempDir(), 'net'), bridge: `sts${tag}`, pool: '10.213.0.0/16' });
  t.after(() => net.close());
  const ports = await Promise.all(['c1', 'c2', 'c3'].map((name, i) => net.attach(name, 'alice', `52:54:00:0c:01:0${i}`)));
  assert.equal(new Set(ports.map((p) => p.address)).size, 3, ports.map((p) => p.address).join(' '));
  // A port whose interface cannot be made gives its address back.
  await assert.rejects(net.attach('c4', 'alice', '52:54:00:0c:01:09', () => Promise.reject(new Error('no TAP'))), /no TAP/);
  const next = await net.attach('c5', 'alice', '52:54:00:0c:01:05');
  assert.equal(next.address.split('.')[3], '13');
  // A VM killed while others start: the bridge table ends with exactly the ports there are
  // (firewall applies overlapped, and one from an older list could commit last). nft is made
  // to take 0-300 ms to start, as on a loaded host, so that overlapping applies finish out of order.
  const slow = join(tempDir(), 'slow-nft');
  mkdirSync(slow);
  const nft = execFileSync('sh', ['-c', 'command -v nft'], { encoding: 'utf8' }).trim();
  writeFileSync(join(slow, 'nft'), `#!/bin/sh\nsleep 0.$(( $(od -An -N1 -tu1 /dev/urandom) % 4 ))\nexec ${nft} "$@"\n`, { mode: 0o755 });
  const path = process.env.PATH;
  process.env.PATH = `${slow}:${path ?? ''}`;
  t.after(() => { process.env.PATH = path; });
  for (let round = 0; round < 3; round++) {
    const [gone, come] = [`c${round * 2 + 1}`, `n${round}`];
    await Promise.all([net.detach(gone), net.attach(come, 'bob', `52:54:00:0c:02:0${round}`), net.detach(`c${round * 2 + 2}`).catch(() => undefined)]);
  }
  const listed = execFileSync('nft', ['list', 'set', 'bridge', tableName(`sts${tag}`), 'guest_mac'], { encoding: 'utf8' });
  const named = [...listed.matchAll(/"(st[0-9a-f]+)" \. ([0-9a-f:]{17})/g)].map((m) => `${m[1]} ${m[2]}`).sort();
  assert.deepEqual(named, net.ports.map((p) => `${p.ifname} ${p.mac}`).sort(), listed);
});

test('host network: a server killed with SIGKILL leaves its bridge, ports and dnsmasq; the next one adopts them, and close removes them', async (t) => {
  const stateDir = join(tempDir(), 'net');
  const crashBridge = `stk${tag}`;
  const module = new URL('../../src/network/host-network.js', import.meta.url).href;
  // The first server: opens the network, gives two instances a TAP, then is killed outright.
  const script = `import { HostNetwork } from '${module}';
const net = await HostNetwork.open({ stateDir: ${JSON.stringify(stateDir)}, bridge: '${crashBridge}', pool: '10.213.0.0/16' });
await net.attach('i1', 'alice', '52:54:00:0c:00:01');
await net.attach('i2', 'bob', '52:54:00:0c:00:02');
console.log(JSON.stringify({ subnet: net.subnet }));
setInterval(() => {}, 1000);`;
  const first = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let reopened: HostNetwork | undefined;
  t.after(async () => {
    first.kill('SIGKILL');
    await reopened?.close().catch(() => undefined);
    for (const name of [crashBridge, tapName(crashBridge, 'i1'), tapName(crashBridge, 'i2')]) try { ip('link', 'del', name); } catch { /* gone */ }
  });
  const said = await new Promise<string>((resolve, reject) => {
    first.stdout?.once('data', (d: Buffer) => resolve(d.toString()));
    first.once('exit', (code) => reject(new Error(`the first server exited (${code}) before it was ready`)));
  });
  const { subnet } = JSON.parse(said) as { subnet: string };
  const oldDnsmasq = Number(readFileSync(join(dhcpDir(crashBridge), 'dnsmasq.pid'), 'utf8'));
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  assert.ok(isDnsmasq(oldDnsmasq), 'dnsmasq outlived the killed server');

  reopened = await HostNetwork.open({ stateDir, bridge: crashBridge, pool: '10.213.0.0/16' });
  assert.equal(reopened.subnet, subnet, 'the same subnet: running guests keep their addresses');
  assert.deepEqual(reopened.ports.map((p) => `${p.owner}:${p.address.split('.')[3]}`), ['alice:10', 'bob:11']);
  assert.ok(!isDnsmasq(oldDnsmasq), 'the old dnsmasq was ended');
  const newDnsmasq = Number(readFileSync(join(dhcpDir(crashBridge), 'dnsmasq.pid'), 'utf8'));
  assert.ok(isDnsmasq(newDnsmasq));
  await reopened.detach('i2');
  assert.throws(() => ip('link', 'show', 'dev', tapName(crashBridge, 'i2')));
  await reopened.close();
  reopened = undefined;
  for (const name of [crashBridge, tapName(crashBridge, 'i1')]) assert.throws(() => ip('link', 'show', 'dev', name), `${name} is gone`);
  assert.doesNotMatch(tables(), new RegExp(tableName(crashBridge)));
  assert.ok(!isDnsmasq(newDnsmasq));
});

test('package proxy: a guest installs from Debian\'s archive through apt-cacher-ng on the bridge address, and reaches the archive no other way', async (t) => {
  const root = tempDir();
  // The proxy runs as user apt-cacher-ng, which must be able to reach its folder.
  chmodSync(root, 0o711);
  const stateDir = join(root, 'net');
  const proxyBridge = `stp${tag}`;
  const proxyPort = 20000 + ((parseInt(tag, 16) + 7) % 12000);
  const net = await HostNetwork.open({ stateDir, bridge: proxyBridge, pool: '10.213.0.0/16', proxyPort });
  t.after(async () => {
    await net.close().catch(() => undefined);
    try { ip('netns', 'del', `sttns${tag}px`); } catch { /* gone */ }
  });
  const proxy = await PackageProxy.start({ dir: join(root, 'acng'), bindAddress: net.hostAddress, port: proxyPort });
  // Stopped whatever the test does (the network is closed by the hook above).
  t.after(() => proxy.stop());
  assert.match(execFileSync('ss', ['-ltnH', `sport = :${proxyPort}`], { encoding: 'utf8' }), new RegExp(`${net.hostAddress.replace(/\./g, '\\.')}:${proxyPort}`), 'the proxy listens on the bridge address only');
  const g = await guest(net, 'px', 'alice', '52:54:00:0d:00:01');
  inNs(g.ns, 'ip', 'route', 'add', 'default', 'via', net.hostAddress);
  const curl = (...args: string[]): string => {
    try {
      return inNs(g.ns, 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '60', ...args);
    } catch (e) {
      return `failed: ${String((e as { stderr?: string }).stderr ?? e).trim().split('\n').pop()}`;
    }
  };
  // Through the proxy: Debian's archive (the host's own network reaches it).
  assert.equal(curl('--proxy', proxy.url, 'http://deb.debian.org/debian/dists/bookworm/Release'), '200');
  // The proxy serves mapped archives only: another site is refused before any lookup matters.
  assert.match(curl('--proxy', proxy.url, 'http://stratus-test.invalid/anything'), /^(403|404|502|503)$/);
  // The maintenance page is not served to guests.
  assert.notEqual(curl(`${proxy.url}/acng-report.html`), '200');
  // Directly: the same archive, by address, is out of reach (dropped on the host, never sent).
  const archive = (await lookup('deb.debian.org', { family: 4 })).address;
  assert.equal(connectFrom(g.ns, archive, 80), 'blocked', 'the guest reaches the archive only through the proxy');
});
