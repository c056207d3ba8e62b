import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardingSysctl, natWarnings, setForwarding } from './forwarding.js';

test('natWarnings: one warning naming the sysctl of each default-route interface that does not forward; none when all do', () => {
  const flags: Record<string, boolean> = { eth0: false, eth1: true, 'eth0.100': false };
  const warnings = natWarnings(['eth0', 'eth1', 'eth0.100'], (dev) => flags[dev]);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0] as string, /^WARNING: \[network\] egress = nat, but net\.ipv4\.conf\.eth0\.forwarding = 0: replies to guests arrive on eth0/);
  assert.match(warnings[0] as string, /sysctl -w net\.ipv4\.conf\.eth0\.forwarding=1 /);
  assert.match(warnings[1] as string, /sysctl -w net\/ipv4\/conf\/eth0\.100\/forwarding=1 /, 'a dotted (VLAN) name in the form sysctl takes');
  assert.deepEqual(natWarnings(['eth1'], (dev) => flags[dev]), []);
  assert.match(natWarnings([], () => true)[0] as string, /no IPv4 default route/);
});

test('forwardingSysctl and setForwarding refuse a name that would be a path of its own', () => {
  assert.equal(forwardingSysctl('stratus0'), 'net.ipv4.conf.stratus0.forwarding');
  assert.throws(() => setForwarding('../all', true), /not an interface name/);
  assert.throws(() => setForwarding('..', true), /not an interface name/);
});
