import { readFileSync, writeFileSync } from 'node:fs';
import { run } from '../platform/run.js';

/**
 * IPv4 forwarding for `egress = nat`, as narrow as Linux allows. The kernel decides whether to
 * route a packet by the forwarding flag of the interface it *arrived on*
 * (net.ipv4.conf.<if>.forwarding); the global net.ipv4.ip_forward only writes that flag on
 * every interface at once. Measured here (bridge + veth namespaces, ip_forward = 0 throughout):
 * with forwarding on the bridge alone, a guest's SYN leaves masqueraded but the reply, which
 * arrives on the uplink, is dropped; with forwarding on the bridge and the uplink the connection
 * opens; on the uplink alone, nothing leaves. So Stratus sets the flag on its own bridge, and
 * the uplink's is the admin's call: turning it on makes the host route whatever arrives there.
 */

/** The /proc/sys file of an interface's IPv4 forwarding flag. */
function flagFile(ifname: string): string {
  // A name from `ip` or from our own (validated) bridge name; never a path of its own.
  if (!/^[^/\0]+$/.test(ifname) || ifname === '.' || ifname === '..') throw new Error(`not an interface name: ${JSON.stringify(ifname)}`);
  return `/proc/sys/net/ipv4/conf/${ifname}/forwarding`;
}

/** The sysctl's name as sysctl(8) takes it (slashes when the interface name has a dot, as VLANs do). */
export function forwardingSysctl(ifname: string): string {
  return ifname.includes('.') ? `net/ipv4/conf/${ifname}/forwarding` : `net.ipv4.conf.${ifname}.forwarding`;
}

/** The interface's forwarding flag, or undefined when the interface does not exist. */
export function readForwarding(ifname: string): boolean | undefined {
  const file = flagFile(ifname);
  try {
    return readFileSync(file, 'utf8').trim() === '1';
  } catch {
    return undefined;
  }
}

/**
 * Sets the forwarding flag of an interface Stratus made (its bridge) when it differs; written
 * at every firewall change, so a host-wide `ip_forward = 0` written meanwhile (which clears the
 * flag on every interface) does not leave NAT silently broken for the next instance.
 */
export function setForwarding(ifname: string, on: boolean): void {
  const now = readForwarding(ifname);
  if (now === undefined || now === on) return;
  writeFileSync(flagFile(ifname), on ? '1\n' : '0\n');
}

/** The interfaces of the host's IPv4 default routes (main table), each once. */
export async function defaultRouteInterfaces(): Promise<string[]> {
  const routes = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show', 'default'])).stdout || '[]') as Array<{ dev?: string }>;
  return [...new Set(routes.map((r) => r.dev).filter((d): d is string => typeof d === 'string' && d !== ''))];
}

/**
 * What `stratus serve` says at start-up about egress = nat: one WARNING per default-route
 * interface whose forwarding is off (replies to guests arrive there and would be dropped), or
 * one when there is no default route at all. Nothing when NAT will work.
 */
export function natWarnings(uplinks: string[], forwarding: (ifname: string) => boolean | undefined = readForwarding): string[] {
  if (uplinks.length === 0) {
    return ['WARNING: [network] egress = nat, but the host has no IPv4 default route: guests reach only networks the host has a route to, '
      + 'through interfaces whose net.ipv4.conf.<interface>.forwarding is 1.'];
  }
  return uplinks.filter((dev) => forwarding(dev) === false).map((dev) => {
    const name = forwardingSysctl(dev);
    return `WARNING: [network] egress = nat, but ${name} = 0: replies to guests arrive on ${dev} (the default route) and are not forwarded, `
      + `so guests' connections out time out. Stratus changes no sysctl of the host's own interfaces; to allow it: sysctl -w ${name}=1 `
      + `(and a file in /etc/sysctl.d/ to keep it), knowing that the host then routes what arrives on ${dev}.`;
  });
}
