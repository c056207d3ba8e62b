/**
 * Helpers for the pdisk tests against a real server: images, uploads and downloads over HTTP,
 * documented-error assertions, and the check that the database and the files agree.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { PdiskClient } from '../../src/client/pdisk-client.js';
import type { Credentials } from '../../src/client/pdisk-client.js';
import { isStratusError } from '../../src/domain/errors.js';
import { pseudoRandom } from '../conformance/volume-driver.js';
import type { VolumeInfo } from '../../src/domain/volume.js';

const KIB = 1024;
const MIB = 1024 * KIB;

/** An image shaped like a disk: data, a zero run, data (a whole number of sectors). */
export function image(seed: number, mib = 1): Buffer {
  const quarter = (mib * MIB) / 4;
  return Buffer.concat([pseudoRandom(quarter, seed), Buffer.alloc(2 * quarter), pseudoRandom(quarter, seed + 1000)]);
}

export function sha1(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}

export function basic(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}

/** Splits a buffer into a stream of chunks, as a client reading a file would send it. */
export function streamOf(b: Buffer, chunk = 64 * KIB): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < b.length; i += chunk) parts.push(b.subarray(i, i + chunk));
  return Readable.from(parts);
}

export async function upload(client: PdiskClient, content: Buffer, opts: { tag?: string; visibility?: string } = {}): Promise<VolumeInfo> {
  const gz = gzipSync(content);
  return client.upload(streamOf(gz), { gzipped: true, size: gz.length, ...opts });
}

/** GET the gzipped image and inflate it. */
export async function download(client: PdiskClient, uuid: string): Promise<Buffer> {
  const res = await client.download(uuid);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  assert.equal(res.statusCode, 200, `download of ${uuid}: ${Buffer.concat(chunks).toString().slice(0, 200)}`);
  assert.match(String(res.headers['content-type']), /gzip/);
  return gunzipSync(Buffer.concat(chunks));
}

/** POSTs an image body with fetch and returns the answer, whatever its status. */
export async function postUpload(url: string, who: Credentials, body: Buffer, gzipped: boolean): Promise<Answer> {
  const res = await fetch(`${url}/pswd/disks/`, {
    method: 'POST',
    headers: { authorization: basic(who), 'content-type': gzipped ? 'application/gzip' : 'application/octet-stream', accept: 'application/json' },
    body: Uint8Array.from(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

export async function call(base: string, method: string, path: string, who?: Credentials, opts: { body?: unknown; accept?: string; auth?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
  if (opts.auth !== undefined) headers.authorization = opts.auth;
  else if (who) headers.authorization = basic(who);
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** An answer with a documented error: status, X-Stratus-Error and the message. */
export function assertError(a: Answer, status: number, code: string, message?: string | RegExp): void {
  assert.equal(a.status, status, `expected ${status} ${code}, got ${a.status}: ${a.text}`);
  assert.equal(a.headers.get('x-stratus-error'), code);
  if (message === undefined) return;
  const text = (JSON.parse(a.text) as Record<string, string>)[String(status)] ?? '';
  if (typeof message === 'string') assert.equal(text, message);
  else assert.match(text, message);
}

/** A client call that must fail with `code` (and `message`). */
export async function rejects(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isStratusError(e), `not a StratusError: ${String(e)}`);
    assert.equal(e.code, code, `${e.code}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Polls until `check` passes (the server finishes an aborted upload on its own time). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The database and the files agree: every volume (listed by the admin) has its data file, no
 * file belongs to no volume, nothing is left in .tmp or .cache (image downloads), and nothing else lies around.
 */
export async function assertConsistent(admin: PdiskClient, volumesDir: string, when: string): Promise<VolumeInfo[]> {
  const rows = await admin.list();
  const files = new Map<string, Set<string>>();
  for (const name of readdirSync(volumesDir)) {
    if (name === '.tmp' || name === '.cache') continue;
    const m = /^(.{36})\.(raw|qcow2|gz)$/.exec(name);
    assert.ok(m && UUID.test(m[1] as string), `${when}: stray file ${name} in ${volumesDir}`);
    const set = files.get(m[1] as string) ?? new Set<string>();
    set.add(m[2] as string);
    files.set(m[1] as string, set);
  }
  const uuids = new Set(rows.map((r) => r.uuid));
  for (const r of rows) {
    const ext = r.format === 'qcow2' ? 'qcow2' : 'raw';
    assert.ok(files.get(r.uuid)?.has(ext), `${when}: volume ${r.uuid} (${r.type}) has no ${r.uuid}.${ext}`);
    if (ext === 'qcow2') assert.ok(!files.get(r.uuid)?.has('raw'), `${when}: snapshot ${r.uuid} has a stray raw file`);
  }
  for (const u of files.keys()) assert.ok(uuids.has(u), `${when}: orphan files for ${u}: ${[...(files.get(u) ?? [])].join(', ')}`);
  assert.deepEqual(readdirSync(join(volumesDir, '.tmp')), [], `${when}: temporary files left in .tmp`);
  if (existsSync(join(volumesDir, '.cache'))) assert.deepEqual(readdirSync(join(volumesDir, '.cache')), [], `${when}: image downloads left in .cache`);
  return rows;
}

export function tmpEmpty(volumesDir: string): boolean {
  return readdirSync(join(volumesDir, '.tmp')).length === 0;
}

