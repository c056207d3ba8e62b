import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import { HostNetwork } from '../../src/network/host-network.js';
import { tableName } from '../../src/network/firewall.js';
import { tempDir } from '../helpers/tmp.js';
import { connectFrom, forwardingOf, guestNamespace, hostForwarding, inNs, ip, listenInNs, outsideNamespace } from '../helpers/netns.js';

/**
 * `egress = nat` with real packets, namespaces standing in for the guest and for the outside
 * world (a veth of the test's own on 198.18.0.0/15, the host's "uplink" to it). The server is
 * restarted between settings as an admin would: the next HostNetwork adopts the bridge.
 */
const tag = randomBytes(3).toString('hex');
const bridge = `ste${tag}`;

const setUplink = (ifname: string, on: boolean): void => writeFileSync(`/proc/sys/net/ipv4/conf/${ifname}/forwarding`, on ? '1\n' : '0\n');

async function sourcesSoon(listener: { sources(): string[] }): Promise<string[]> {
  for (let i = 0; i < 40 && listener.sources().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  return listener.sources();
}

test('egress with real packets: none forwards nothing even when the uplink routes; nat reaches the outside masqueraded as the host once the uplink forwards (and says so at start when it does not), never the host\'s other ports; switching back stops it; the host\'s own sysctls are never written', async (t) => {
  const before = hostForwarding();
  const port = 20000 + randomInt(10000);
  const outside = await outsideNamespace(`sto${tag}`, port);
  const guestNs = `stens${tag}`;
  const stateDir = join(tempDir(), 'net');
  let net: HostNetwork | undefined;
  const secretSeen = { count: 0 };
  const secret = createServer((c) => { secretSeen.count++; c.end('host secret\n'); });
  await new Promise<void>((r) => secret.listen(0, '0.0.0.0', r));
  const secretPort = (secret.address() as AddressInfo).port;
  const listener = await listenInNs(outside.ns, outside.address, port);
  t.after(async () => {
    listener.child.kill();
    secret.close();
    await net?.close().catch(() => undefined);
    try { ip('netns', 'del', guestNs); } catch { /* gone */ }
    outside.remove();
  });

  // egress = none, on a host whose uplink does forward: the bridge table and the bridge's own
  // flag keep everything in.
  setUplink(outside.hostIf, true);
  net = await HostNetwork.open({ stateDir, bridge, pool: '10.213.0.0/16', egress: 'none' });
  assert.equal(forwardingOf(bridge), '0', 'egress = none: the bridge does not forward');
  assert.deepEqual(net.notices, []);
  const g = await guestNamespace(net, guestNs, `stg${tag}`, 'g1', 'alice', '52:54:00:0e:00:01');
  inNs(g.ns, 'ip', 'route', 'add', 'default', 'via', net.hostAddress);
  assert.equal(connectFrom(g.ns, outside.address, port), 'blocked', 'egress = none: the outside is out of reach');
  assert.equal(outside.packets(), 0, 'egress = none: not one packet reached the outside');

  // The admin sets egress = nat and restarts: the bridge (and the guest's port) are adopted.
  await net.leave();
  setUplink(outside.hostIf, false);
  net = await HostNetwork.open({ stateDir, bridge, pool: '10.213.0.0/16', egress: 'nat' });
  assert.equal(forwardingOf(bridge), '1', 'egress = nat: the bridge forwards');
  const defaults = Object.keys(before).filter((k) => /^net\.ipv4\.conf\.(?!all\.|default\.)/.test(k) && before[k] === '0');
  for (const sysctl of defaults) assert.ok(net.notices.some((n) => n.includes(`${sysctl} = 0`) && n.includes(`sysctl -w ${sysctl}=1`)), `the start-up warning names ${sysctl}:\n${net.notices.join('\n')}`);
  assert.equal(net.notices.length, defaults.length, net.notices.join('\n'));

  // The uplink does not forward: the SYN leaves, masqueraded, and the reply is dropped on the way back.
  assert.equal(connectFrom(g.ns, outside.address, port), 'blocked', 'without forwarding on the uplink, replies do not come back');
  assert.ok(outside.packets() > 0, 'the SYN did reach the outside');
  assert.deepEqual(listener.sources(), [], 'no connection was made');

  // The admin enables forwarding on the uplink, as the warning says: the connection opens and
  // the outside sees the host's address, not the guest's.
  setUplink(outside.hostIf, true);
  assert.equal(connectFrom(g.ns, outside.address, port), 'open', 'egress = nat: the guest reaches the outside');
  assert.deepEqual(await sourcesSoon(listener), [outside.hostAddress], `masqueraded as the host's address on the uplink, not ${g.address}`);

  // NAT opens the outside only: the host's own ports stay shut, on every address of the host.
  for (const address of [net.hostAddress, outside.hostAddress, '127.0.0.1']) {
    assert.equal(connectFrom(g.ns, address, secretPort), 'blocked', `egress = nat: the host's port at ${address} refuses the guest`);
  }
  assert.equal(secretSeen.count, 0, 'no guest connection reached the host service');

  // Back to none: the adopted bridge, which forwarded, stops.
  await net.leave();
  net = await HostNetwork.open({ stateDir, bridge, pool: '10.213.0.0/16', egress: 'none' });
  assert.equal(forwardingOf(bridge), '0', 'an adopted bridge stops forwarding when egress is none again');
  const sent = outside.packets();
  assert.equal(connectFrom(g.ns, outside.address, port), 'blocked');
  assert.equal(outside.packets(), sent, 'egress = none again: nothing reached the outside');

  await net.close();
  net = undefined;
  assert.throws(() => ip('link', 'show', 'dev', bridge), 'the bridge is gone');
  assert.doesNotMatch(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), new RegExp(tableName(bridge)));
  setUplink(outside.hostIf, false);
  assert.deepEqual(hostForwarding(), before, 'the host\'s own forwarding sysctls were never written');
});
