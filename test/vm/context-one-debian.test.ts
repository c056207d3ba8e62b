import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { aptProxyVendorData } from '../../src/context/apt-proxy.js';
import { mergeContext } from '../../src/context/one.js';
import type { LaunchRequest, LaunchedInstance } from '../../src/compute/launch.js';
import { tempDir } from '../helpers/tmp.js';
import { bootGuest, recipeImage, ssh, sshKey } from '../helpers/vm.js';

const dir = tempDir();
const key = sshKey(dir);
const image = await recipeImage('debian-12');
/** No proxy answers there: the guests only have to be told about it. */
const proxy = 'http://10.93.0.1:3142';
const hostile = { EVIL_DQ: 'a "$(touch /root/PWNED_dq)" `touch /root/PWNED_bt`', EVIL_NL: "x'\n$(touch /root/PWNED_nl)\n" };

const base = (name: string): Omit<LaunchRequest, 'seed'> => ({
  name, instancesDir: join(dir, 'instances'), base: { path: image.path, format: 'raw' }, vcpus: 2, memoryMiB: 1024, inboundPorts: [],
});

// Two debian-12 boots (about two minutes each under TCG), side by side, each checked for
// several things: the one CD, and a NoCloud seed with the proxy as vendor-data. At the top
// level, not in a before() hook: bootGuest's clean-up (after()) must belong to the file.
const [one, nocloud] = await (async (): Promise<LaunchedInstance[]> => {
  const variables = mergeContext({
    fileText: 'GREETING=hello from the one context\n',
    generated: ['START_SCRIPT=echo "$(date +%s) started" > /root/start-script.ran'],
  });
  for (const [k, v] of Object.entries(hostile)) variables.set(k, v);
  const [a, b] = await Promise.all([
    bootGuest({ ...base('deb-one'), seed: { method: 'one', variables, publicKey: key.publicKey, hostname: 'deb-one', aptProxy: proxy } }, 300_000),
    bootGuest({ ...base('deb-vendor'), seed: { instanceId: 'i-deb-vendor', hostname: 'deb-vendor', sshKeys: [key.publicKey], vendorData: aptProxyVendorData(proxy) } }, 300_000),
  ]);
  for (const inst of [a.instance, b.instance]) {
    const status = ssh(inst, key.path, 'cloud-init status --wait --long; true', 300_000);
    assert.match(status, /status: done/, status);
  }
  return [a.instance, b.instance];
})() as [LaunchedInstance, LaunchedInstance];

/** A few fields of cloud-init's instance data, read in the guest. */
function instanceData(inst: LaunchedInstance, keys: string[]): Record<string, unknown> {
  const py = `import json; d = json.load(open("/run/cloud-init/instance-data.json")); m = d["ds"].get("meta_data", {}); print(json.dumps({"platform": d["v1"]["platform"], **{k: m.get(k) for k in ${JSON.stringify(keys)}}}))`;
  return JSON.parse(ssh(inst, key.path, `python3 -c '${py}'`)) as Record<string, unknown>;
}

test('debian-12 with the one context CD: cloud-init\'s OpenNebula datasource, ssh with the PUBLIC_KEY key, SET_HOSTNAME, the start script ran', () => {
  const data = instanceData(one, ['GREETING', 'SET_HOSTNAME']);
  assert.deepEqual(data, { platform: 'opennebula', GREETING: 'hello from the one context', SET_HOSTNAME: 'deb-one' });
  assert.equal(ssh(one, key.path, 'hostname').trim(), 'deb-one');
  assert.match(ssh(one, key.path, 'cat /root/start-script.ran'), /^\d+ started\n$/);
  assert.doesNotMatch(ssh(one, key.path, 'cloud-init status --long'), /error/i);
});

test('debian-12 with the one context CD: apt uses the package proxy of STRATUS_APT_PROXY, over the image\'s http sources', () => {
  assert.match(ssh(one, key.path, 'apt-config dump | grep -i proxy'), new RegExp(`^Acquire::http::Proxy "${proxy}";$`, 'm'));
  assertHttpSources(one);
});

test('debian-12 with a NoCloud seed: vendor-data points apt at the proxy (cloud-init\'s own apt module); NoCloud is still the datasource', () => {
  assert.equal(instanceData(nocloud, []).platform, 'nocloud');
  assert.match(ssh(nocloud, key.path, 'apt-config dump | grep -i proxy'), new RegExp(`^Acquire::http::Proxy "${proxy}";$`, 'm'));
  assert.match(ssh(nocloud, key.path, 'cat /etc/apt/apt.conf.d/90cloud-init-aptproxy'), new RegExp(proxy));
  assert.equal(ssh(nocloud, key.path, 'ls /etc/apt/apt.conf.d/').includes('90stratus-aptproxy'), false, 'the OpenNebula hook wrote nothing');
  assertHttpSources(nocloud);
});

test('attack (debian-12): context values with quotes, $(...), backticks and newlines reach cloud-init literally and run nothing', () => {
  assert.deepEqual(instanceData(one, Object.keys(hostile)), { platform: 'opennebula', ...hostile });
  assert.equal(ssh(one, key.path, 'ls -d /root/PWNED* /PWNED* /tmp/PWNED* 2>/dev/null; true').trim(), '');
});

/** apt-cacher-ng serves http and tunnels nothing: the sources must stay http (cloud-init's template would make them https). */
function assertHttpSources(inst: LaunchedInstance): void {
  const sources = ssh(inst, key.path, 'grep -rh "^deb" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; true').trim().split('\n');
  assert.ok(sources.length >= 1 && sources.every((l) => l.startsWith('deb http://deb.debian.org/')), sources.join('\n'));
}
