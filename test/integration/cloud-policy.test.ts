/**
 * The site policy (§11.2) and the image cache's refusals, against a real `stratus serve`, with
 * no VM: every refusal comes before anything is made.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServerProcess } from '../helpers/server.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';
import { quarantinePeriod } from '../../src/main/cloud-settings.js';
import { isStratusError } from '../../src/domain/errors.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
mkdirSync(dataDir, { recursive: true });
const trusted = makeSigner(dir, 'Good Builder', 'good@example.org');
const shunned = makeSigner(dir, 'Bad Builder', 'bad@example.org');
writeFileSync(join(dataDir, 'stratus.cfg'), '[policy]\nblacklistendorsers = bad@example.org\n');
const ADMIN = { username: 'admin', password: 'admin-policy-pass' };
const server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
const basic = (u: { username: string; password: string }): string => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;

async function publish(xml: string): Promise<void> {
  const res = await fetch(`${server.url}/metadata`, { method: 'POST', body: xml, headers: { 'content-type': 'application/xml' } });
  assert.equal(res.status, 201, await res.text());
}

async function run(image: string): Promise<{ status: number; body: { code?: string; message?: string } }> {
  // Errors answer StratusLab's way: the message under the status code.
  const res = await fetch(`${server.url}/instances`, {
    method: 'POST', body: JSON.stringify({ image, cpu: 1, ramMiB: 256 }),
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: basic(ADMIN) },
  });
  const body = await res.json() as Record<string, string>;
  return { status: res.status, body: { code: body.code, message: body[String(res.status)] } };
}

test('site policy: an image endorsed only by a blacklisted endorser is refused with StratusLab\'s message, and nothing is made', async () => {
  const entry = draft({ locations: ['http://127.0.0.1:9/never-fetched.img.gz'] });
  await publish(signedXml(shunned, entry));
  const refused = await run(entry.identifier);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.code, 'POLICY_REFUSED');
  assert.match(refused.body.message ?? '', /^Image isn't valid according to site policy: email endorser bad@example.org is blacklisted, rejecting entry/);
  const listed = await fetch(`${server.url}/instances`, { headers: { accept: 'application/json', authorization: basic(ADMIN) } });
  assert.deepEqual(await listed.json(), []);
});

test('the image cache: an allowed entry whose location does not answer fails the run with the download\'s reason, and leaves no instance, volume or download behind', async () => {
  const entry = draft({ locations: ['http://127.0.0.1:9/absent.img.gz'] });
  await publish(signedXml(trusted, entry));
  const failed = await run(entry.identifier);
  assert.equal(failed.status, 502);
  assert.equal(failed.body.code, 'DOWNLOAD_FAILED');
  const volumes = await fetch(`${server.url}/pswd/disks/`, { headers: { accept: 'application/json', authorization: basic(ADMIN) } });
  assert.deepEqual(await volumes.json(), []);
  const listed = await fetch(`${server.url}/instances`, { headers: { accept: 'application/json', authorization: basic(ADMIN) } });
  assert.deepEqual(await listed.json(), []);
});

test('quarantine_period reads as §11.4 says: minutes by default, m, h and d, and a clear error otherwise', () => {
  assert.equal(quarantinePeriod(undefined), 15 * 60_000);
  assert.equal(quarantinePeriod('15'), 15 * 60_000);
  assert.equal(quarantinePeriod('2h'), 2 * 3_600_000);
  assert.equal(quarantinePeriod('1d'), 86_400_000);
  assert.throws(() => quarantinePeriod('soon'), (e: unknown) => isStratusError(e, 'CONFIG_INVALID') && /Invalid quarantine_period parameter soon/.test(e.message));
});
