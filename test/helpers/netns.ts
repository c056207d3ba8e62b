import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import type { HostNetwork } from '../../src/network/host-network.js';
import { formatIpv4, hostNetworksInUse, overlaps } from '../../src/network/subnet.js';

/**
 * Network namespaces as stand-ins for machines: a guest on the bridge, or the "outside world"
 * behind a veth of its own. Only interfaces, namespaces and tables the tests create are touched.
 */

export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

export function inNs(ns: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, ...args], { encoding: 'utf8', timeout: 30_000 });
}

/**
 * A namespace guest on the network's bridge: its NIC (`peer`, in namespace `ns`) is the other
 * end of the veth the network takes as the instance's port. The caller removes `ns`.
 */
export async function guestNamespace(net: HostNetwork, ns: string, peer: string, name: string, owner: string, mac: string): Promise<{ ns: string; peer: string; address: string }> {
  ip('netns', 'add', ns);
  const port = await net.attach(name, owner, mac, async (ifname) => {
    ip('link', 'add', ifname, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
  });
  inNs(ns, 'ip', 'link', 'set', peer, 'address', mac);
  inNs(ns, 'ip', 'addr', 'add', `${port.address}/24`, 'dev', peer);
  inNs(ns, 'ip', 'link', 'set', peer, 'up');
  inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
  return { ns, peer, address: port.address };
}

/** Tries a TCP connection from inside a namespace: 'open' (connected) or 'blocked'. */
export function connectFrom(ns: string, host: string, port: number): string {
  const script = `const s=require('net').connect({host:'${host}',port:${port}});s.setTimeout(2500);`
    + `s.on('connect',()=>{console.log('open');process.exit(0)});s.on('timeout',()=>{console.log('blocked');process.exit(0)});`
    + `s.on('error',(e)=>{console.log('blocked '+e.code);process.exit(0)});`;
  return inNs(ns, process.execPath, '-e', script).trim().split(' ')[0] as string;
}

/** The sysctl file of an interface's IPv4 forwarding flag ('0' or '1'). */
export function forwardingOf(ifname: string): string {
  return execFileSync('cat', [`/proc/sys/net/ipv4/conf/${ifname}/forwarding`], { encoding: 'utf8' }).trim();
}

/** The host's own forwarding sysctls (global and per default-route interface), to prove they are left alone. */
export function hostForwarding(): Record<string, string> {
  const read = (f: string): string => execFileSync('cat', [f], { encoding: 'utf8' }).trim();
  const out: Record<string, string> = {
    'net.ipv4.ip_forward': read('/proc/sys/net/ipv4/ip_forward'),
    'net.ipv4.conf.all.forwarding': read('/proc/sys/net/ipv4/conf/all/forwarding'),
    'net.ipv4.conf.default.forwarding': read('/proc/sys/net/ipv4/conf/default/forwarding'),
  };
  for (const r of JSON.parse(ip('-j', '-4', 'route', 'show', 'default')) as Array<{ dev?: string }>) {
    if (r.dev) out[`net.ipv4.conf.${r.dev}.forwarding`] = forwardingOf(r.dev);
  }
  return out;
}

export interface Outside {
  ns: string;
  /** The host's end of the veth: the host's "uplink" to this network. */
  hostIf: string;
  /** The host's address on that veth (what masquerading gives as the source). */
  hostAddress: string;
  /** The address inside the namespace, where listeners wait. */
  address: string;
  /** The port listeners use there. */
  port: number;
  /** TCP packets to `port` that reached the namespace (counted by a table inside it). */
  packets(): number;
  remove(): void;
}

/**
 * The "outside world": a namespace behind a veth, on a /30 of 198.18.0.0/15 (the benchmark
 * range) that no route, address or resolver of the host touches, so nothing a guest sends
 * there can leave the machine. The host's end gets the address, hence the route. A table in
 * the namespace counts TCP packets to `port`, to tell "never arrived" from "arrived and was
 * not answered".
 */
export async function outsideNamespace(name: string, port: number): Promise<Outside> {
  const inUse = await hostNetworksInUse();
  let base: number | undefined;
  for (let i = 0; i < 100 && base === undefined; i++) {
    const candidate = { base: (((198 << 24) | (18 << 16)) >>> 0) + randomInt(0, 2 ** 15) * 4, prefix: 30 };
    if (!inUse.some((u) => overlaps(u, candidate))) base = candidate.base;
  }
  if (base === undefined) throw new Error('no free /30 in 198.18.0.0/15');
  const hostAddress = formatIpv4(base + 1);
  const address = formatIpv4(base + 2);
  const ns = `${name}ns`;
  const hostIf = `${name}h`.slice(0, 15);
  const peer = `${name}p`.slice(0, 15);
  const remove = (): void => {
    try { ip('netns', 'del', ns); } catch { /* gone */ }
    try { ip('link', 'del', hostIf); } catch { /* went with the namespace */ }
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
    ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    inNs(ns, 'ip', 'addr', 'add', `${address}/30`, 'dev', peer);
    inNs(ns, 'ip', 'link', 'set', peer, 'up');
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
      input: `table inet tally {\n\tchain input {\n\t\ttype filter hook input priority 0;\n\t\ttcp dport ${port} counter\n\t}\n}\n`,
    });
  } catch (e) {
    remove();
    throw e;
  }
  const packets = (): number => {
    const listing = JSON.parse(inNs(ns, 'nft', '-j', 'list', 'table', 'inet', 'tally')) as { nftables: Array<{ rule?: { expr: Array<{ counter?: { packets: number } }> } }> };
    return listing.nftables.reduce((n, r) => n + (r.rule?.expr.find((x) => x.counter)?.counter?.packets ?? 0), 0);
  };
  return { ns, hostIf, hostAddress, address, port, packets, remove };
}

export interface NsListener {
  child: ChildProcess;
  /** The source address of every connection accepted so far. */
  sources(): string[];
}

/** A TCP listener inside a namespace that answers `hello <source>` and records each source. */
export async function listenInNs(ns: string, host: string, port: number): Promise<NsListener> {
  const script = `require('net').createServer(c=>{c.on('error',()=>{});console.log('from '+c.remoteAddress);c.end('hello from outside\\n')}).listen(${port},'${host}',()=>console.log('up'))`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('up\n')) resolve(); });
    child.once('exit', (code) => reject(new Error(`the listener in ${ns} exited (${code})`)));
  });
  return { child, sources: () => [...out.matchAll(/^from (\S+)$/gm)].map((m) => m[1] as string) };
}
