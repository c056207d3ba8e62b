/**
 * Hostile `save` requests (POST /instances, --save) against a real `stratus serve`: fields of
 * the wrong type or size, a draft Marketplace that is no http(s) URL, and a --save of a volume
 * that boots as it is (no parent, nothing Prolog makes to copy). Each is refused before
 * anything is made: no instance, no volume beyond the attacker's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { addAccount } from '../helpers/cloud.js';

const dir = tempDir();
const ADMIN = { username: 'admin', password: 'admin-save-pass-1' };
const MALLORY = { username: 'mallory', password: 'mallory-pass-1' };
const server = await startServerProcess(join(dir, 'data'), ['--network', 'user'], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
await addAccount(server.url, ADMIN, MALLORY.username, MALLORY.password);
const basic = (u: { username: string; password: string }): string => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
const SAVE = { author: 'Mallory', authorEmail: 'mallory@example.org', title: 't', comment: 'c', imageVersion: '1.0' };

async function call(method: string, path: string, body: unknown): Promise<{ status: number; code?: string; message?: string; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, {
    method, body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: basic(MALLORY) },
  });
  const answer = await res.json() as Record<string, unknown>;
  return { status: res.status, body: answer, ...(typeof answer.code === 'string' ? { code: answer.code } : {}), ...(typeof answer[String(res.status)] === 'string' ? { message: answer[String(res.status)] as string } : {}) };
}

async function instances(): Promise<unknown[]> {
  const res = await fetch(`${server.url}/instances`, { headers: { accept: 'application/json', authorization: basic(ADMIN) } });
  return await res.json() as unknown[];
}

test('save fields of the wrong type, blank, oversized, or a Marketplace that is not http(s): 400 naming the field, no instance', async () => {
  const image = 'PxJQ0F1u9P0vKrrVafwoOm6zH7a';
  const cases: Array<[unknown, RegExp]> = [
    ['yes', /^field save must be an object/],
    [[SAVE], /^field save must be an object/],
    [{ ...SAVE, author: { $ne: '' } }, /^With save, please provide the author of the new image \(field save\.author\)$/],
    [{ ...SAVE, title: ['a', 'b'] }, /^With save, please provide a title for the new image \(field save\.title\)$/],
    [{ ...SAVE, comment: ' \n\t' }, /^With save, please provide a comment describing the new image \(field save\.comment\)$/],
    [{ ...SAVE, imageVersion: 'x'.repeat(5000) }, /^field save\.imageVersion is longer than 1024 characters$/],
    [{ ...SAVE, authorEmail: 'no-at-sign' }, /^field save\.authorEmail must be an e-mail address/],
    [{ ...SAVE, marketplace: 'file:///etc/passwd' }, /^field save\.marketplace must be an http\(s\) URL/],
    [{ ...SAVE, marketplace: 'http://evil.example.org/\nX-Injected: 1' }, /^field save\.marketplace must be an http\(s\) URL/],
  ];
  for (const [save, message] of cases) {
    const r = await call('POST', '/instances', { image, cpu: 1, ramMiB: 64, save });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.code, 'USAGE');
    assert.match(r.message ?? '', message);
  }
  assert.deepEqual(await instances(), []);
});

test('--save of a MACHINE_IMAGE_LIVE volume (which boots as it is) is refused with the reason before anything starts', async () => {
  const made = await call('POST', '/pswd/disks/', { size: 1 });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const uuid = made.body.uuid as string;
  assert.equal((await call('PUT', `/pswd/disks/${uuid}`, { type: 'MACHINE_IMAGE_LIVE' })).status, 200);
  const r = await call('POST', '/instances', { image: uuid, cpu: 1, ramMiB: 64, save: SAVE });
  assert.equal(r.status, 409, JSON.stringify(r.body));
  assert.equal(r.code, 'VOLUME_STATE');
  assert.match(r.message ?? '', new RegExp(`--save needs a disk the cloud makes for the instance, but ${uuid} is a MACHINE_IMAGE_LIVE volume`));
  assert.deepEqual(await instances(), []);
});

test('a --marketplace-endpoint-newimage on this host\'s loopback (SSRF: the server would POST there in the Epilog) is refused when the VM is asked for; the listener hears nothing', async (t) => {
  let heard = 0;
  const listener = createServer((_req, res) => { heard++; res.writeHead(201).end(); });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  t.after(() => listener.close());
  const port = (listener.address() as AddressInfo).port;
  for (const marketplace of [`http://127.0.0.1:${port}`, `http://localhost:${port}/`, `http://[::1]:${port}`, 'http://169.254.169.254/latest']) {
    const r = await call('POST', '/instances', { image: 'PxJQ0F1u9P0vKrrVafwoOm6zH7a', cpu: 1, ramMiB: 64, save: { ...SAVE, marketplace } });
    assert.equal(r.status, 403, `${marketplace}: ${JSON.stringify(r.body)}`);
    assert.equal(r.code, 'URL_REFUSED');
    assert.match(r.message ?? '', /^--marketplace-endpoint-newimage /);
  }
  assert.equal(heard, 0);
  assert.deepEqual(await instances(), []);
});
