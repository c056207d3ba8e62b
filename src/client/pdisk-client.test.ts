import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PdiskClient } from './pdisk-client.js';
import { isStratusError } from '../domain/errors.js';

/**
 * A server that answers the first request on each connection with keep-alive, and drops the
 * connection when a second request arrives on it: the race of a kept-alive connection closed
 * by the server just as the client reuses it (a pdisk-api test once failed on it with
 * ECONNRESET after a restart).
 */
async function closingServer(): Promise<{ url: string; requests: string[]; close: () => void }> {
  const requests: string[] = [];
  const served = new WeakSet<Socket>();
  const server = createServer((req, res) => {
    const socket = req.socket;
    if (served.has(socket)) {
      requests.push(`${req.method} ${req.url} dropped`);
      socket.destroy();
      return;
    }
    served.add(socket);
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive' }).end('{"username":"a","admin":false}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => server.close() };
}

test('a GET on a kept-alive connection the server drops is sent again once, on a new connection', async () => {
  const s = await closingServer();
  try {
    const client = new PdiskClient(s.url, { username: 'a', password: 'b' });
    assert.equal((await client.me()).username, 'a');
    assert.equal((await client.me()).username, 'a', 'the second call succeeds on a new connection');
    assert.deepEqual(s.requests, ['GET /users/me', 'GET /users/me dropped', 'GET /users/me']);
  } finally {
    s.close();
  }
});

test('a POST is never sent twice: the dropped connection is an error naming the request', async () => {
  const s = await closingServer();
  try {
    const client = new PdiskClient(s.url, { username: 'a', password: 'b' });
    await client.me();
    await assert.rejects(client.snapshot('00000000-0000-4000-8000-000000000000'), (e) => isStratusError(e, 'MARKETPLACE_UNREACHABLE') && /ECONNRESET \(POST \/pswd\/disks\/00000000-0000-4000-8000-000000000000\/snapshot\)/.test(e.message));
    assert.equal(s.requests.filter((r) => r.startsWith('POST')).length, 1);
  } finally {
    s.close();
  }
});
