/**
 * Location headers with a hostile Host against a real `stratus serve`: they echoed the request's
 * Host, so a poisoned cache or a link in a log could send a client elsewhere. They use the
 * configured public_url, or without one the address the server listens on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, basic, send, startConfiguredServer } from '../helpers/hostile-client.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

const PUBLIC = 'https://marketplace.example.org:9443';
const configured = await startConfiguredServer(`[server]\npublic_url = ${PUBLIC}/\n`);
const plain = await startConfiguredServer();
const signer = makeSigner(tempDir(), 'Location Tester', 'location.tester@example.org');
const HOSTILE = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'gopher' };

async function locations(base: string): Promise<string[]> {
  const entry = await send(base, 'POST', '/metadata', { headers: { ...HOSTILE, 'content-type': 'application/xml' }, body: signedXml(signer, draft()) });
  assert.equal(entry.status, 201, entry.text);
  const volume = await send(base, 'POST', '/pswd/disks/', { headers: { ...HOSTILE, authorization: basic(ADMIN), 'content-type': 'application/json' }, body: '{"size":1}' });
  assert.equal(volume.status, 201, volume.text);
  return [String(entry.headers.location), String(volume.headers.location)];
}

test('with public_url, Location names it whatever Host the request carries', async () => {
  const [entry = '', volume = ''] = await locations(configured.url);
  assert.match(entry, new RegExp(`^${PUBLIC.replace(/[.]/g, '\\.')}/metadata/[^/]+/location\\.tester@example\\.org/`));
  assert.match(volume, new RegExp(`^${PUBLIC.replace(/[.]/g, '\\.')}/pswd/disks/[0-9a-f-]{36}$`));
});

test('without public_url, Location names the address the server listens on, never the Host header', async () => {
  for (const location of await locations(plain.url)) {
    assert.ok(location.startsWith(`${plain.url}/`), location);
    assert.doesNotMatch(location, /evil|gopher/);
  }
});

test('same-origin requests from a browser that reached the server by its public URL are its own', async () => {
  const r = await send(configured.url, 'POST', '/users', { headers: { origin: PUBLIC, authorization: basic(ADMIN), 'content-type': 'application/json' }, body: '{"username":"carol","password":"carol-password-1"}' });
  assert.equal(r.status, 201, r.text);
});
