import { run } from '../platform/run.js';

/** One instance's port on the bridge: its TAP (or veth), MAC, fixed address and owner. */
export interface GuestPort {
  ifname: string;
  mac: string;
  address: string;
  owner: string;
}

export interface FirewallSpec {
  bridge: string;
  /** The bridge's own address: where guests find DHCP and the package proxy. */
  hostAddress: string;
  subnet: string;
  /** The package proxy's port on hostAddress, when the server runs one. */
  proxyPort?: number;
  /** 'nat': guests reach the outside world, masqueraded; 'none': they reach only what is given. */
  egress: 'none' | 'nat';
  guests: GuestPort[];
}

/** The tables Stratus owns for a bridge: an inet table (host side) and a bridge table (L2). */
export function tableName(bridge: string): string {
  return `stratus_${bridge.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

const q = (s: string): string => `"${s}"`;

/**
 * The whole ruleset for one bridge, replaced in one `nft -f` transaction so that no packet
 * ever sees half of it. Only the two tables named after the bridge are touched: the
 * `table …; delete table …` pair makes the delete safe when the table does not exist yet.
 *
 * Host side (inet): from the bridge, only DHCP, the proxy and replies to the host's own
 * connections reach the host; forwarding off the bridge is dropped unless egress is NAT;
 * nothing from elsewhere is forwarded onto the bridge except replies. Traffic between two ports
 * of the bridge is left to the bridge table: with br_netfilter loaded (Docker loads it) bridged
 * IPv4 also passes the inet forward hook, with the bridge as both interfaces.
 * Guest side (bridge, matched by port names: this kernel has no `meta ibrname`): a port may only send from its own MAC and address (no spoofing, no
 * IPv6), and frames pass between two ports only when both belong to the same owner.
 */
export function renderRuleset(spec: FirewallSpec): string {
  const t = tableName(spec.bridge);
  const br = q(spec.bridge);
  const list = (items: string[]): string => (items.length ? `\t\telements = { ${items.join(', ')} }\n` : '');
  const ports = spec.guests.map((g) => q(g.ifname));
  const macs = spec.guests.map((g) => `${q(g.ifname)} . ${g.mac.toLowerCase()}`);
  const ips = spec.guests.map((g) => `${q(g.ifname)} . ${g.address}`);
  const peers: string[] = [];
  for (const a of spec.guests) for (const b of spec.guests) if (a !== b && a.owner === b.owner) peers.push(`${q(a.ifname)} . ${q(b.ifname)}`);
  const proxy = spec.proxyPort ? `\t\tip daddr ${spec.hostAddress} tcp dport ${spec.proxyPort} accept\n` : '';
  const egress = spec.egress === 'nat' ? 'accept' : 'drop';
  const nat = spec.egress === 'nat'
    ? `\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr ${spec.subnet} oifname != ${br} masquerade\n\t}\n`
    : '';
  return `table inet ${t}
delete table inet ${t}
table inet ${t} {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiifname ${br} jump from_guests
\t}
\tchain from_guests {
\t\tct state established,related accept
\t\tudp dport 67 accept
${proxy}\t\tcounter drop
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tiifname ${br} oifname ${br} accept
\t\toifname ${br} ct state established,related accept
\t\toifname ${br} drop
\t\tiifname ${br} ${egress}
\t}
${nat}}
table bridge ${t}
delete table bridge ${t}
table bridge ${t} {
\tset ports {
\t\ttype ifname
${list(ports)}\t}
\tset guest_mac {
\t\ttype ifname . ether_addr
${list(macs)}\t}
\tset guest_ip {
\t\ttype ifname . ipv4_addr
${list(ips)}\t}
\tset peers {
\t\ttype ifname . ifname
${list(peers)}\t}
\tchain prerouting {
\t\ttype filter hook prerouting priority -200; policy accept;
\t\tiifname != @ports accept
\t\tiifname . ether saddr != @guest_mac counter drop
\t\tether type ip6 counter drop
\t\tether type arp arp saddr ip 0.0.0.0 accept
\t\tether type arp iifname . arp saddr ip != @guest_ip counter drop
\t\tether type ip ip saddr 0.0.0.0 udp dport 67 accept
\t\tether type ip iifname . ip saddr != @guest_ip counter drop
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy accept;
\t\tiifname . oifname @peers accept
\t\tiifname @ports counter drop
\t\toifname @ports counter drop
\t}
}
`;
}

/** Replaces the bridge's tables with the ruleset for `spec`, atomically. */
export async function applyFirewall(spec: FirewallSpec): Promise<void> {
  await run('nft', ['-f', '-'], { input: renderRuleset(spec) });
}

/** Removes the bridge's two tables (and nothing else); absent tables are fine. */
export async function removeFirewall(bridge: string): Promise<void> {
  const t = tableName(bridge);
  await run('nft', ['-f', '-'], { input: `table inet ${t}\ndelete table inet ${t}\ntable bridge ${t}\ndelete table bridge ${t}\n` });
}
