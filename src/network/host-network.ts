import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { run } from '../platform/run.js';
import { writeFileAtomic } from '../platform/files.js';
import { DhcpServer } from './dnsmasq.js';
import { applyFirewall, removeFirewall } from './firewall.js';
import { defaultRouteInterfaces, natWarnings, setForwarding } from './forwarding.js';
import type { GuestPort } from './firewall.js';
import { withHostLock } from '../platform/host-lock.js';
import { chooseSubnet, formatCidr, formatIpv4, hostAddress, hostNetworksInUse, parseCidr } from './subnet.js';
import type { Cidr } from './subnet.js';
import { Turns } from '../platform/turns.js';

export interface HostNetworkOptions {
  /** Folder for this bridge's state (ports, leases, dnsmasq files). */
  stateDir: string;
  /** Bridge name (at most 15 characters); one server owns one bridge. */
  bridge: string;
  /** A fixed subnet (a /24); otherwise the first free /24 of `pool`. */
  subnet?: string;
  pool?: string;
  proxyPort?: number;
  egress?: 'none' | 'nat';
}

interface State {
  bridge: string;
  subnet: string;
  guests: GuestPort[];
}

/** Held while a server picks its subnet and puts it on its bridge. */
const NETWORK_LOCK = '/run/stratus/network.lock';

/** Guest addresses start here; .1 is the bridge, .2–.9 stay free for host services. */
const FIRST_GUEST = 10;

/**
 * The host-only network of one server: a Linux bridge owned by Stratus, a TAP per instance
 * with a fixed DHCP lease, and the nftables tables that keep guests to what they are given.
 *
 * Ownership is explicit: the bridge carries the alias `stratus:<stateDir>`, and only a bridge
 * with that alias is ever changed or removed; the tables are named after the bridge. Every
 * change is written to state.json (temp + rename) before it is applied, so a server killed at
 * any point finds, on its next start, exactly what it created and can re-create or remove it.
 */
export class HostNetwork {
  private warnings: string[] = [];
  private readonly firewallTurns = new Turns();

  private constructor(
    private readonly o: HostNetworkOptions,
    private readonly net: Cidr,
    private guests: GuestPort[],
    private readonly dhcp: DhcpServer,
  ) {}

  get bridge(): string { return this.o.bridge; }
  get subnet(): string { return formatCidr(this.net); }
  get hostAddress(): string { return hostAddress(this.net, 1); }
  get ports(): readonly GuestPort[] { return this.guests; }
  /** What the admin must know at start-up (egress = nat on a host that will not route the replies). */
  get notices(): readonly string[] { return this.warnings; }

  static async open(o: HostNetworkOptions): Promise<HostNetwork> {
    if (!/^[A-Za-z0-9_-]{1,15}$/.test(o.bridge)) {
      throw new StratusError('CONFIG_INVALID', `bridge name "${o.bridge}" is not a valid interface name`, { hint: 'Use 1–15 letters, digits, _ or -, e.g. bridge = stratus0.' });
    }
    mkdirSync(o.stateDir, { recursive: true, mode: 0o755 });
    const saved = readState(o.stateDir);
    const marker = `stratus:${o.stateDir}`;
    const alias = await linkAlias(o.bridge);
    if (alias !== undefined && alias !== marker) {
      throw new StratusError('CONFIG_INVALID', `interface ${o.bridge} exists and was not made by this Stratus server (its alias is "${alias}")`, {
        hint: 'Choose another bridge name in the server configuration (bridge = …); Stratus never changes interfaces it did not create.',
      });
    }
    const created: Array<() => Promise<void>> = [];
    try {
      // Choosing a free /24 and putting it on the bridge is one step for the whole host: two
      // servers (or tests) starting together would otherwise both take the first free one.
      const net = await withHostLock(NETWORK_LOCK, async () => {
        let chosen: Cidr;
        if (o.subnet) {
          chosen = parseCidr(o.subnet) ?? badSubnet(o.subnet);
          if (chosen.prefix !== 24) badSubnet(o.subnet);
        } else if (alias !== undefined && saved) {
          chosen = parseCidr(saved.subnet) as Cidr;
        } else {
          chosen = chooseSubnet(parseCidr(o.pool ?? '10.213.0.0/16') ?? badSubnet(o.pool ?? ''), await hostNetworksInUse());
        }
        if (alias === undefined) {
          await run('ip', ['link', 'add', o.bridge, 'type', 'bridge']);
          created.push(() => run('ip', ['link', 'del', o.bridge]).then(() => undefined));
          await run('ip', ['link', 'set', o.bridge, 'alias', marker]);
          await run('ip', ['addr', 'add', `${hostAddress(chosen, 1)}/24`, 'dev', o.bridge]);
          await run('ip', ['link', 'set', o.bridge, 'up']);
        }
        return chosen;
      });
      // Ports of instances that outlived a crash are kept only if their interface still exists.
      const guests: GuestPort[] = [];
      for (const g of saved?.guests ?? []) if ((await linkAlias(g.ifname)) !== undefined) guests.push(g);
      // dnsmasq drops to user nobody and must still re-read its hosts file on SIGHUP, so its
      // files live where every folder on the way is searchable, not in the (private) data dir.
      const dir = dhcpDir(o.bridge);
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      const dhcp = new DhcpServer({ dir, bridge: o.bridge, hostAddress: hostAddress(net, 1), base: formatIpv4(net.base) });
      const hn = new HostNetwork(o, net, guests, dhcp);
      hn.save();
      await hn.applyFirewall();
      // An adopted bridge outlives this undo: it must not keep forwarding without its tables.
      created.push(async () => { setForwarding(o.bridge, false); await removeFirewall(o.bridge); });
      if (hn.egress === 'nat') hn.warnings = natWarnings((await defaultRouteInterfaces()).filter((d) => d !== o.bridge));
      dhcp.setHosts(hn.dhcpHosts());
      await dhcp.start();
      return hn;
    } catch (e) {
      for (const undo of created.reverse()) await undo().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Gives an instance its port: a TAP on the bridge, a fixed address and lease, and its place
   * in the firewall. Undone in reverse if any step fails. `makePort` creates the interface
   * (a TAP for QEMU by default; tests give a veth whose peer sits in a network namespace).
   */
  async attach(instance: string, owner: string, mac: string, makePort: (ifname: string) => Promise<void> = makeTap): Promise<GuestPort> {
    if (this.guests.some((g) => g.ifname === tapName(this.o.bridge, instance))) {
      throw new StratusError('USAGE', `instance ${instance} already has a port on ${this.o.bridge}`);
    }
    const port: GuestPort = { ifname: tapName(this.o.bridge, instance), mac: mac.toLowerCase(), address: this.freeAddress(), owner };
    // The address is the port's from here, before the first await: two starts attached at the
    // same moment (a VM and the booted base it asks for) were both given the first free one,
    // and dnsmasq leased it to one of them only.
    this.guests = [...this.guests, port];
    const undo: Array<() => Promise<unknown>> = [async () => { this.guests = this.guests.filter((g) => g !== port); this.save(); }];
    try {
      await makePort(port.ifname);
      undo.push(() => run('ip', ['link', 'del', port.ifname]));
      await run('ip', ['link', 'set', port.ifname, 'alias', `stratus:${instance}`]);
      await run('ip', ['link', 'set', port.ifname, 'master', this.o.bridge]);
      await run('ip', ['link', 'set', port.ifname, 'up']);
      this.save();
      await this.applyFirewall();
      this.dhcp.setHosts(this.dhcpHosts());
      return port;
    } catch (e) {
      for (const u of undo.reverse()) await u().catch(() => undefined);
      await this.applyFirewall().catch(() => undefined);
      throw e;
    }
  }

  /** Removes an instance's port, lease and rules; a missing port is fine (idempotent). */
  async detach(instance: string): Promise<void> {
    const ifname = tapName(this.o.bridge, instance);
    const gone = this.guests.find((g) => g.ifname === ifname);
    // The lease goes first, or its address would stay refused to the next instance given it.
    if (gone) await this.dhcp.release(gone).catch(() => undefined);
    this.guests = this.guests.filter((g) => g.ifname !== ifname);
    this.save();
    this.dhcp.setHosts(this.dhcpHosts());
    await this.applyFirewall();
    if ((await linkAlias(ifname)) !== undefined) await run('ip', ['link', 'del', ifname]);
    // The host's neighbour entry names this port's MAC: the next instance given the address
    // would wait for it to fail (seconds) before the host asked again by ARP.
    if (gone) await run('ip', ['neigh', 'flush', 'to', gone.address, 'dev', this.o.bridge]).catch(() => undefined);
  }

  /**
   * The server stops while instances run: their ports, addresses and rules stay for the next
   * start to adopt (open() finds the bridge by its alias); only dnsmasq, the server's child,
   * stops. Leases are fixed, so guests keep their addresses meanwhile.
   */
  async leave(): Promise<void> {
    await this.dhcp.stop();
  }

  /** Removes everything this network created: ports, dnsmasq, tables, the bridge, the state. */
  async close(): Promise<void> {
    await this.dhcp.stop();
    for (const g of this.guests) if ((await linkAlias(g.ifname)) !== undefined) await run('ip', ['link', 'del', g.ifname]).catch(() => undefined);
    const ours = (await linkAlias(this.o.bridge)) === `stratus:${this.o.stateDir}`;
    // Routing stops before the tables go, so nothing is forwarded unfiltered in between.
    if (ours) setForwarding(this.o.bridge, false);
    await removeFirewall(this.o.bridge);
    if (ours) await run('ip', ['link', 'del', this.o.bridge]);
    rmSync(dhcpDir(this.o.bridge), { recursive: true, force: true });
    rmSync(this.o.stateDir, { recursive: true, force: true });
  }

  private freeAddress(): string {
    const used = new Set(this.guests.map((g) => g.address));
    for (let n = FIRST_GUEST; n < 255; n++) {
      const a = hostAddress(this.net, n);
      if (!used.has(a)) return a;
    }
    throw new StratusError('QUOTA_EXCEEDED', `bridge ${this.o.bridge} has no free address left in ${this.subnet}`, { hint: 'Stop an instance, or give the server a larger pool of bridges.' });
  }

  private dhcpHosts(): Array<{ mac: string; address: string; hostname: string }> {
    return this.guests.map((g) => ({ mac: g.mac, address: g.address, hostname: g.ifname }));
  }

  private get egress(): 'none' | 'nat' { return this.o.egress ?? 'none'; }

  /**
   * The tables, and the bridge's own forwarding flag to match (on only for egress = nat; an
   * adopted bridge may carry the flag of an earlier server's setting). The flag goes on after
   * the tables that filter and masquerade, and off before tables that no longer allow it.
   */
  private applyFirewall(): Promise<void> {
    // One apply at a time, each rendering the ports as they are when it runs: overlapping
    // attach/detach calls (a VM killed while another starts) could otherwise commit out of
    // order, the last from an older list that lacks a new port, whose frames are then dropped.
    return this.firewallTurns.run('bridge', async () => {
      const nat = this.egress === 'nat';
      if (!nat) setForwarding(this.o.bridge, false);
      await applyFirewall({
        bridge: this.o.bridge, hostAddress: this.hostAddress, subnet: this.subnet, egress: this.egress,
        guests: this.guests, ...(this.o.proxyPort ? { proxyPort: this.o.proxyPort } : {}),
      });
      if (nat) setForwarding(this.o.bridge, true);
    });
  }

  private save(): void {
    const state: State = { bridge: this.o.bridge, subnet: this.subnet, guests: this.guests };
    writeFileAtomic(join(this.o.stateDir, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  }
}

async function makeTap(ifname: string): Promise<void> {
  await run('ip', ['tuntap', 'add', 'dev', ifname, 'mode', 'tap']);
}

/** dnsmasq's folder for a bridge: hosts file, leases, pid file, log. */
export function dhcpDir(bridge: string): string {
  return join('/run/stratus/dnsmasq', bridge);
}

/** A TAP name unique to the bridge and instance, within the 15 characters Linux allows. */
export function tapName(bridge: string, instance: string): string {
  return `st${createHash('sha1').update(`${bridge}\0${instance}`).digest('hex').slice(0, 10)}`;
}

function readState(dir: string): State | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as State;
  } catch {
    return undefined;
  }
}

/** The interface's alias ('' when it has none), or undefined when it does not exist. */
async function linkAlias(ifname: string): Promise<string | undefined> {
  try {
    const [link] = JSON.parse((await run('ip', ['-j', 'link', 'show', 'dev', ifname])).stdout) as Array<{ ifalias?: string }>;
    return link?.ifalias ?? '';
  } catch {
    return undefined;
  }
}

function badSubnet(text: string): never {
  throw new StratusError('CONFIG_INVALID', `bridge subnet "${text}" is not an IPv4 /24 network`, { hint: 'Write it as a.b.c.0/24, e.g. bridge_subnet = 10.213.77.0/24.' });
}
