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
