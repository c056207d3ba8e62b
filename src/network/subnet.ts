import { readFileSync } from 'node:fs';
import { StratusError } from '../domain/errors.js';
import { run } from '../platform/run.js';

/** An IPv4 network: its base address as a 32-bit number and its prefix length. */
export interface Cidr {
  base: number;
  prefix: number;
}

export function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0] as number) << 24) | ((parts[1] as number) << 16) | ((parts[2] as number) << 8) | (parts[3] as number)) >>> 0;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Parses `a.b.c.d/n` (a bare address is a /32); the base is masked to the prefix. */
export function parseCidr(text: string): Cidr | undefined {
  const [addr, len] = text.trim().split('/');
  const ip = parseIpv4(addr ?? '');
  const prefix = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : -1;
  if (ip === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return undefined;
  return { base: (ip & mask(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return ((a.base & mask(p)) >>> 0) === ((b.base & mask(p)) >>> 0);
}

/** The nth host address of a network (1 = the first usable, which the bridge takes). */
export function hostAddress(net: Cidr, n: number): string {
  return formatIpv4((net.base + n) >>> 0);
}

/**
 * The first /24 of `pool` that overlaps nothing the host already uses: a route (in any
 * table, the default route aside), an address on an interface, a resolver, or a network in
 * `taken` (reserved by another Stratus server). A bridge on such a subnet would capture the
 * host's own traffic to it, as the resolver at 10.255.255.53 here would be.
 */
export function chooseSubnet(pool: Cidr, inUse: Cidr[], taken: Cidr[] = []): Cidr {
  if (pool.prefix > 24) throw new StratusError('CONFIG_INVALID', `bridge subnet pool ${formatCidr(pool)} is smaller than a /24`, { hint: 'Give a pool of /24 or larger, e.g. bridge_subnet_pool = 10.213.0.0/16.' });
  const count = 2 ** (24 - pool.prefix);
  for (let i = 0; i < count; i++) {
    const candidate: Cidr = { base: (pool.base + i * 256) >>> 0, prefix: 24 };
    if ([...inUse, ...taken].some((u) => overlaps(u, candidate))) continue;
    return candidate;
  }
  throw new StratusError('CONFIG_INVALID', `every /24 of the bridge subnet pool ${formatCidr(pool)} collides with a route, an address or a resolver of this host`, {
    hint: 'Set bridge_subnet to a free network, or bridge_subnet_pool to a pool the host does not use.',
  });
}

/** Networks the host uses now: routes of every table, interface addresses, resolvers. */
export async function hostNetworksInUse(): Promise<Cidr[]> {
  const nets: Cidr[] = [];
  const routes = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all'])).stdout || '[]') as Array<{ dst?: string }>;
  for (const r of routes) {
    if (!r.dst || r.dst === 'default') continue;
    const c = parseCidr(r.dst);
    // Loopback and multicast-wide local routes say nothing about private ranges.
    if (c && c.prefix > 0) nets.push(c);
  }
  const links = JSON.parse((await run('ip', ['-j', '-4', 'addr', 'show'])).stdout || '[]') as Array<{ addr_info?: Array<{ local?: string; prefixlen?: number }> }>;
  for (const l of links) {
    for (const a of l.addr_info ?? []) {
      const c = a.local ? parseCidr(`${a.local}/${a.prefixlen ?? 32}`) : undefined;
      if (c) nets.push(c);
    }
  }
  for (const ns of resolvers()) nets.push({ base: ns, prefix: 32 });
  return nets;
}

function resolvers(): number[] {
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).map((a) => (a ? parseIpv4(a) : undefined)).filter((n): n is number => n !== undefined);
}
