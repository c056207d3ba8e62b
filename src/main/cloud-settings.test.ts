import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStratusError } from '../domain/errors.js';
import { loadCloudSettings } from './cloud-settings.js';

test('url_allow items that are not addresses or CIDR blocks stop the server at start-up, naming the item', () => {
  for (const bad of ['localhost', '127.0.0.1/33', '10.0.0.0/8/8', 'fe80::/129']) {
    assert.throws(() => loadCloudSettings((s, k) => (s === 'instances' && k === 'url_allow' ? `127.0.0.1, ${bad}` : undefined), '/data', '/data/stratus.cfg'),
      (e: unknown) => isStratusError(e, 'CONFIG_INVALID') && e.message.includes(`url_allow item ${bad} is not an address or CIDR block`), bad);
  }
  const s = loadCloudSettings((sec, k) => (sec === 'instances' ? { url_allow: '127.0.0.1\n10.0.0.0/8', url_max_mib: '64' }[k] : undefined), '/data', '/data/stratus.cfg');
  assert.deepEqual([s.urlAllow, s.urlMaxMiB], [['127.0.0.1', '10.0.0.0/8'], 64]);
});

test('built_image_validity_period: the days a --save draft is valid, 2 by default (§2.4); not a whole number ≥ 1 stops the server', () => {
  const at = (v: string | undefined): number => loadCloudSettings((s, k) => (s === 'instances' && k === 'built_image_validity_period' ? v : undefined), '/data', '/data/stratus.cfg').builtImageValidDays;
  assert.equal(at(undefined), 2);
  assert.equal(at('30'), 30);
  for (const bad of ['0', '2d', '-1', '1.5']) {
    assert.throws(() => at(bad), (e: unknown) => isStratusError(e, 'CONFIG_INVALID') && e.message === `/data/stratus.cfg: [instances] built_image_validity_period = ${bad} is not a whole number ≥ 1`, bad);
  }
});

test('layer_cache_mib: what one account\'s instance layers may take, 20480 MiB by default, none for no bound; anything else stops the server', () => {
  const at = (v: string | undefined): number => loadCloudSettings((s, k) => (s === 'instances' && k === 'layer_cache_mib' ? v : undefined), '/data', '/data/stratus.cfg').layerCacheMiB;
  assert.equal(at(undefined), 20480);
  assert.equal(at('512'), 512);
  assert.equal(at('0'), 0, 'no layers kept at all');
  assert.equal(at('none'), Number.POSITIVE_INFINITY);
  for (const bad of ['-1', '2G', '1.5']) {
    assert.throws(() => at(bad), (e: unknown) => isStratusError(e, 'CONFIG_INVALID') && e.message === `/data/stratus.cfg: [instances] layer_cache_mib = ${bad} is not a whole number ≥ 0`, bad);
  }
});
