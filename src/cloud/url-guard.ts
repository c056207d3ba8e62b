import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { StratusError } from '../domain/errors.js';
import type { UrlGuard } from '../images/index.js';

/**
 * Addresses a URL given by a user never makes the server fetch from, unless the admin allows
 * them: the server's own services (loopback, unspecified, which reaches loopback), link-local
 * (cloud metadata services live there), multicast and broadcast.
 */
const ALWAYS_BLOCKED: ReadonlyArray<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'], ['127.0.0.0', 8, 'ipv4'], ['169.254.0.0', 16, 'ipv4'], ['224.0.0.0', 4, 'ipv4'], ['255.255.255.255', 32, 'ipv4'],
  ['::', 128, 'ipv6'], ['::1', 128, 'ipv6'], ['fe80::', 10, 'ipv6'], ['ff00::', 8, 'ipv6'],
];

/** Parses `[instances] url_allow`: addresses and CIDR blocks, IPv4 or IPv6. */
export function parseUrlAllow(items: string[], where: string): BlockList {
  const allow = new BlockList();
  for (const item of items) {
    const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(item);
    const family = m ? isIP(m[1] as string) : 0;
    const bits = m?.[2] === undefined ? (family === 6 ? 128 : 32) : Number(m[2]);
    if (!m || family === 0 || bits > (family === 6 ? 128 : 32)) {
      throw new StratusError('CONFIG_INVALID', `${where}: url_allow item ${item} is not an address or CIDR block (e.g. 127.0.0.1, 10.0.0.0/8, fd00::/8)`);
    }
    allow.addSubnet(m[1] as string, bits, family === 6 ? 'ipv6' : 'ipv4');
  }
  return allow;
}

/**
 * The guard for URLs users give run-instance (SSRF): the blocked addresses above, this host's
 * own addresses on every interface (read at each check: the bridge comes and goes), and the
 * instance network (its guests are other users' machines), unless `allow` holds the address.
 */
export function urlGuard(o: { allow?: BlockList; instanceSubnet?: () => string | undefined }): UrlGuard {
  return {
    refusal(address) {
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (o.allow?.check(address, type)) return undefined;
      const blocked = new BlockList();
      for (const [net, bits, family] of ALWAYS_BLOCKED) blocked.addSubnet(net, bits, family);
      if (blocked.check(address, type)) return 'an address of this server, link-local or multicast: refused unless the administrator allows it ([instances] url_allow)';
      const own = new BlockList();
      for (const list of Object.values(networkInterfaces())) {
        for (const a of list ?? []) own.addAddress(a.address.replace(/%.*$/, ''), a.family === 'IPv6' ? 'ipv6' : 'ipv4');
      }
      if (own.check(address, type)) return 'an address of this server: refused unless the administrator allows it ([instances] url_allow)';
      const subnet = o.instanceSubnet?.();
      const m = subnet ? /^([^/]+)\/(\d+)$/.exec(subnet) : null;
      if (m) {
        const instances = new BlockList();
        instances.addSubnet(m[1] as string, Number(m[2]), isIP(m[1] as string) === 6 ? 'ipv6' : 'ipv4');
        if (instances.check(address, type)) return `on the instance network (${subnet}): refused unless the administrator allows it ([instances] url_allow)`;
      }
      return undefined;
    },
  };
}
