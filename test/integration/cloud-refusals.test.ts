/**
 * run-instance's refusals that come before any VM, against a real `stratus serve` with
 * per-account limits in its stratus.cfg: the instance, vCPU and RAM limits, and an image whose
 * bytes do not match its signed checksum. Each leaves no instance, volume or download behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServerProcess } from '../helpers/server.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';
import { addAccount } from '../helpers/cloud.js';

const dir = tempDir();
const dataDir = join(dir, 'data');
mkdirSync(dataDir, { recursive: true });
writeFileSync(join(dataDir, 'stratus.cfg'), '[instances]\nmax_instances = 2\nmax_cpu = 2\nmax_ram_mib = 512\n');
const ADMIN = { username: 'admin', password: 'admin-refusal-pass' };
const ERIN = { username: 'erin', password: 'erin-pass-12' };
const server = await startServerProcess(dataDir, ['--network', 'user'], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
await addAccount(server.url, ADMIN, ERIN.username, ERIN.password);
const signer = makeSigner(dir, 'Good Builder', 'good@example.org');
const basic = (u: { username: string; password: string }): string => `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;

async function run(body: Record<string, unknown>): Promise<{ status: number; code?: string; message?: string }> {
  const res = await fetch(`${server.url}/instances`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: basic(ERIN) },
  });
  const answer = await res.json() as Record<string, string>;
  return { status: res.status, ...(answer.code ? { code: answer.code } : {}), ...(answer[String(res.status)] ? { message: answer[String(res.status)] } : {}) };
}

async function nothingLeft(): Promise<void> {
  for (const path of ['/instances', '/pswd/disks/']) {
    const res = await fetch(`${server.url}${path}`, { headers: { accept: 'application/json', authorization: basic(ADMIN) } });
    assert.deepEqual(await res.json(), [], `${path} is empty`);
  }
  const instancesDir = join(dataDir, 'instances');
  assert.deepEqual((existsSync(instancesDir) ? readdirSync(instancesDir) : []).filter((n) => n.startsWith('one-')), [], 'no instance directory');
}

test('the per-account limits of [instances] refuse a run that would pass them, naming the limit, what is in use and what was asked', async () => {
  const image = 'PxJQ0F1u9P0vKrrVafwoOm6zH7a';
  const count = await run({ image, count: 3, cpu: 1, ramMiB: 128 });
  assert.deepEqual(count, { status: 403, code: 'INSTANCE_LIMIT', message: 'erin may run at most 2 instances: 0 in use, 3 asked for' });
  const cpu = await run({ image, cpu: 3, ramMiB: 128 });
  assert.deepEqual(cpu, { status: 403, code: 'INSTANCE_LIMIT', message: 'erin may run at most 2 vCPUs: 0 in use, 3 asked for' });
  const ram = await run({ image, count: 2, cpu: 1, ramMiB: 300 });
  assert.deepEqual(ram, { status: 403, code: 'INSTANCE_LIMIT', message: 'erin may run at most 512 MB of RAM: 0 MB in use, 600 MB asked for' });
  await nothingLeft();
});

test('an image whose bytes do not match its signed SHA-1 is refused by the image cache: no origin, no instance, no download left', async (t) => {
  const served = gzipSync(randomBytes(1024));
  const http = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(served.length) });
    res.end(req.method === 'HEAD' ? undefined : served);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  t.after(() => http.close());
  const entry = draft({ locations: [`http://127.0.0.1:${(http.address() as AddressInfo).port}/image.img.gz`] });
  const published = await fetch(`${server.url}/metadata`, { method: 'POST', body: signedXml(signer, entry), headers: { 'content-type': 'application/xml' } });
  assert.equal(published.status, 201, await published.text());
  const refused = await run({ image: entry.identifier, cpu: 1, ramMiB: 128 });
  assert.equal(refused.status, 502, JSON.stringify(refused));
  assert.match(refused.message ?? '', /SHA-1/i);
  await nothingLeft();
  const scratch = join(dataDir, 'volumes', '.cache');
  assert.deepEqual(readdirSync(scratch, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name), [], 'no partial download');
});
