import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSubnet, formatCidr, hostAddress, overlaps, parseCidr } from './subnet.js';

const cidr = (t: string) => parseCidr(t) ?? assert.fail(`bad test cidr ${t}`);

test('CIDR parsing masks the base and refuses nonsense', () => {
  assert.equal(formatCidr(cidr('10.213.77.9/24')), '10.213.77.0/24');
  assert.equal(formatCidr(cidr('10.255.255.53')), '10.255.255.53/32');
  for (const bad of ['10.1.2/24', '10.1.2.3/33', '300.1.1.1/8', 'x', '10.1.2.3/']) assert.equal(parseCidr(bad), undefined, bad);
});

test('overlap holds both ways, across prefixes', () => {
  assert.ok(overlaps(cidr('10.0.0.0/8'), cidr('10.213.77.0/24')));
  assert.ok(overlaps(cidr('10.213.77.0/24'), cidr('10.0.0.0/8')));
  assert.ok(!overlaps(cidr('10.213.77.0/24'), cidr('10.213.78.0/24')));
});

test('the chosen subnet avoids routes, addresses, resolvers and other servers\' bridges', () => {
  const pool = cidr('10.213.0.0/16');
  assert.equal(formatCidr(chooseSubnet(pool, [])), '10.213.0.0/24');
  const inUse = [cidr('10.213.0.0/24'), cidr('10.213.1.7/32')];
  assert.equal(formatCidr(chooseSubnet(pool, inUse, [cidr('10.213.2.0/24')])), '10.213.3.0/24');
  // A resolver reached through the default route still rules its /24 out.
  assert.equal(formatCidr(chooseSubnet(cidr('10.255.255.0/24'), [], [])), '10.255.255.0/24');
  assert.throws(() => chooseSubnet(cidr('10.255.255.0/24'), [cidr('10.255.255.53/32')]), /collides with a route, an address or a resolver/);
  assert.throws(() => chooseSubnet(cidr('10.1.1.0/25'), []), /smaller than a \/24/);
  assert.equal(hostAddress(cidr('10.213.3.0/24'), 1), '10.213.3.1');
});
