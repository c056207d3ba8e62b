import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadServerLimits } from './server-limits.js';
import { isStratusError } from '../domain/errors.js';

function limitsOf(values: Record<string, string>): ReturnType<typeof loadServerLimits> {
  return loadServerLimits((section, key) => values[`${section}.${key}`], 'stratus.cfg');
}

test('defaults: 64 KiB entries, 120 anonymous uploads an hour, login and connection limits, no public URL', () => {
  const l = limitsOf({});
  assert.equal(l.maxMetadataBytes, 64 * 1024);
  assert.equal(l.anonymousUploadsPerHour, 120);
  assert.deepEqual(l.login, { perAddress: 20, perAccount: 10, windowMs: 60_000 });
  assert.equal(l.connections.bodyTimeoutMs, 30_000);
  assert.equal(l.connections.maxConnectionsPerAddress, 128);
  assert.equal(l.publicUrl, undefined);
});

test('every key is read; timeouts in seconds with decimals; "unlimited" and 0 for anonymous uploads', () => {
  const l = limitsOf({
    'server.public_url': 'https://Marketplace.Example.org:9443/', 'server.body_timeout_s': '1.5', 'server.idle_timeout_s': '2',
    'server.max_connections': '50', 'server.max_connections_per_address': '0', 'server.login_failures_per_account': '3',
    'marketplace.max_metadata_bytes': '16384', 'marketplace.body_memory_mib': '2', 'marketplace.anonymous_uploads_per_hour': 'unlimited',
  });
  assert.equal(l.publicUrl, 'https://marketplace.example.org:9443');
  assert.equal(l.connections.bodyTimeoutMs, 1500);
  assert.equal(l.connections.idleTimeoutMs, 2000);
  assert.equal(l.connections.maxConnections, 50);
  assert.equal(l.connections.maxConnectionsPerAddress, 0);
  assert.equal(l.login.perAccount, 3);
  assert.equal(l.maxMetadataBytes, 16384);
  assert.equal(l.bodyMemoryBytes, 2 * 1024 * 1024);
  assert.equal(l.anonymousUploadsPerHour, Infinity);
  assert.equal(limitsOf({ 'marketplace.anonymous_uploads_per_hour': '0' }).anonymousUploadsPerHour, 0);
});

test('bad values stop the server from starting, naming the key and the file', () => {
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ 'server.body_timeout_s': 'soon' }, /stratus\.cfg: \[server\] body_timeout_s = soon is not a number ≥ 0\.1/],
    [{ 'server.max_connections': '0' }, /max_connections = 0 is not a whole number ≥ 1/],
    [{ 'marketplace.max_metadata_bytes': '1.5' }, /max_metadata_bytes = 1\.5 is not a whole number/],
    [{ 'marketplace.anonymous_uploads_per_hour': '-1' }, /anonymous_uploads_per_hour = -1/],
    [{ 'marketplace.max_metadata_bytes': String(4 * 1024 * 1024), 'marketplace.body_memory_mib': '1' }, /more than body_memory_mib holds/],
    [{ 'server.public_url': 'marketplace.example.org' }, /public_url = marketplace\.example\.org is not a URL/],
    [{ 'server.public_url': 'ftp://marketplace.example.org' }, /must be a plain http\(s\) URL/],
    [{ 'server.public_url': 'https://user:pw@marketplace.example.org' }, /must be a plain http\(s\) URL/],
  ];
  for (const [values, message] of bad) {
    assert.throws(() => limitsOf(values), (e: unknown) => isStratusError(e, 'CONFIG_INVALID') && message.test(e.message), JSON.stringify(values));
  }
});
