import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isStratusError } from '../domain/errors.js';
import { LayerClient } from './layer-client.js';

/*
 * The step-cache routes as the server side is to answer them (a stub; the server's routes come
 * from another branch): 200 for a layer the caller has, 404 with its own code for one it has
 * not, and the server's ROUTE_NOT_FOUND while the routes do not exist. The last case is also
 * proved against a real server in test/integration/create-image-cli.test.ts.
 */

const KEY = 'a'.repeat(64);

async function stub(routes: boolean): Promise<{ url: string; seen: string[]; close(): void }> {
  const seen: string[] = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body}`);
      const answer = (status: number, code: string, json: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...(status >= 400 ? { 'x-stratus-error': code } : {}) });
        res.end(JSON.stringify(json));
      };
      if (!routes) return answer(404, 'ROUTE_NOT_FOUND', { code: 'ROUTE_NOT_FOUND', 404: `no such resource: ${req.method} ${req.url}` });
      if (req.url === `/instances/layers/${KEY}`) return answer(200, '', { key: KEY });
      if (req.url?.startsWith('/instances/layers/')) return answer(404, 'LAYER_NOT_FOUND', { code: 'LAYER_NOT_FOUND', 404: 'no such layer' });
      if (req.url === '/instances/7/layers') return answer(201, '', { key: JSON.parse(body).key });
      if (req.url === '/instances') return answer(201, '', []);
      answer(404, 'INSTANCE_NOT_FOUND', { code: 'INSTANCE_NOT_FOUND', 404: 'VM 8 does not exist' });
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}`, seen, close: () => srv.close() };
}

test('hasLayer: 200 yes, 404 LAYER_NOT_FOUND no; saveLayer posts the key; run sends `layer` only when there is one', async () => {
  const s = await stub(true);
  try {
    const c = new LayerClient(s.url, { username: 'alice', password: 'pw' });
    assert.equal(await c.hasLayer(KEY), true);
    assert.equal(await c.hasLayer('b'.repeat(64)), false);
    await c.saveLayer(7, KEY);
    await assert.rejects(c.saveLayer(8, KEY), (e) => isStratusError(e, 'INSTANCE_NOT_FOUND'));
    await c.runInstances({ image: 'x', cpu: 1, ramMiB: 64 });
    await c.runInstances({ image: 'x', cpu: 1, ramMiB: 64, layer: KEY });
    assert.deepEqual(s.seen.slice(2), [
      `POST /instances/7/layers {"key":"${KEY}"}`,
      `POST /instances/8/layers {"key":"${KEY}"}`,
      'POST /instances {"image":"x","cpu":1,"ramMiB":64}',
      `POST /instances {"image":"x","cpu":1,"ramMiB":64,"layer":"${KEY}"}`,
    ]);
  } finally {
    s.close();
  }
});

test('a server without the routes: ROUTE_NOT_FOUND comes back as such, not as "no layer"', async () => {
  const s = await stub(false);
  try {
    const c = new LayerClient(s.url);
    await assert.rejects(c.hasLayer(KEY), (e) => isStratusError(e, 'ROUTE_NOT_FOUND'));
    await assert.rejects(c.saveLayer(7, KEY), (e) => isStratusError(e, 'ROUTE_NOT_FOUND'));
  } finally {
    s.close();
  }
});

test('a key that is not 64 hex digits never reaches the URL', async () => {
  const c = new LayerClient('http://127.0.0.1:9');
  for (const bad of ['../../metadata', 'A'.repeat(64), 'a'.repeat(63)]) {
    await assert.rejects(c.hasLayer(bad), (e) => isStratusError(e, 'LAYER_INVALID'));
  }
});
