import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { aptProxyVendorData } from './apt-proxy.js';
import { buildSeed } from './nocloud.js';
import { tempDir } from '../../test/helpers/tmp.js';

const dir = tempDir();

test('vendor-data: the seed carries it as the file vendor-data, and only when given', () => {
  const vendorData = aptProxyVendorData('http://10.20.30.1:3142');
  assert.equal(vendorData, '#cloud-config\napt:\n  http_proxy: "http://10.20.30.1:3142"\n');
  const withIt = join(dir, 'with.iso');
  writeFileSync(withIt, buildSeed({ instanceId: 'i-1', hostname: 'vm-1', vendorData }));
  assert.deepEqual(execFileSync('isoinfo', ['-J', '-f', '-i', withIt]).toString().trim().split('\n').sort(), ['/meta-data', '/user-data', '/vendor-data']);
  assert.equal(execFileSync('isoinfo', ['-J', '-x', '/vendor-data', '-i', withIt]).toString(), vendorData);
  const without = join(dir, 'without.iso');
  writeFileSync(without, buildSeed({ instanceId: 'i-1', hostname: 'vm-1' }));
  assert.deepEqual(execFileSync('isoinfo', ['-J', '-f', '-i', without]).toString().trim().split('\n').sort(), ['/meta-data', '/user-data']);
});

test('the proxy URL must be http://HOST:PORT: a quote or newline would be YAML (or apt configuration) of its own', () => {
  assert.equal(aptProxyVendorData('http://[fd00::1]:3142/'), '#cloud-config\napt:\n  http_proxy: "http://[fd00::1]:3142/"\n');
  for (const bad of ['', 'http://10.0.0.1:3142"\nruncmd: [reboot]', 'https://10.0.0.1:3142', 'http://user:pw@10.0.0.1:3142', 'http://10.0.0.1:3142/path']) {
    assert.throws(() => aptProxyVendorData(bad), (e: unknown) => e instanceof StratusError && e.code === 'CONFIG_INVALID' && /is not http:\/\/HOST:PORT/.test(e.message), bad);
  }
});
