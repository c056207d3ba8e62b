/**
 * Slow, stalled and short bodies against a real `stratus serve` with small timeouts: 300
 * uploads that stopped after 900 KiB of 1 MB all stayed open, holding 265 MB, and a body
 * shorter than its Content-Length hung forever. Each connection is now closed by a timeout,
 * the memory held for unfinished bodies is bounded, the connections per client are capped,
 * and a slow but steady pdisk upload is not cut off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Socket } from 'node:net';
import { ADMIN, basic, openSocket, send, startConfiguredServer, untilClosed } from '../helpers/hostile-client.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

const BODY_S = 2;
const IDLE_S = 3;
const server = await startConfiguredServer([
  '[server]', `body_timeout_s = ${BODY_S}`, `idle_timeout_s = ${IDLE_S}`, 'headers_timeout_s = 2', 'max_connections_per_address = 24',
  '[marketplace]', 'body_memory_mib = 1', 'anonymous_uploads_per_hour = unlimited',
].join('\n'));
const base = server.url;
const signer = makeSigner(tempDir(), 'Slow Tester', 'slow.tester@example.org');
/** How long a closed-by-timeout connection may take beyond its timeout on a loaded machine. */
const SLACK_MS = 6_000;

function head(path: string, length: number, extra = ''): string {
  return `POST ${path} HTTP/1.1\r\nHost: stratus\r\nContent-Type: application/xml\r\nContent-Length: ${length}\r\n${extra}\r\n`;
}

async function stalled(bytesSent: number, declared: number): Promise<Socket> {
  const socket = await openSocket(base);
  socket.write(head('/metadata', declared));
  socket.write(Buffer.alloc(bytesSent, 0x20));
  return socket;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a body stopped halfway is answered 408 and closed by the body timeout', async () => {
  const socket = await stalled(30_000, 60_000);
  const { received, ms } = await untilClosed(socket, BODY_S * 1000 + SLACK_MS);
  assert.match(received, /^HTTP\/1\.1 408 /);
  assert.ok(ms >= BODY_S * 1000 - 500, `closed after ${ms} ms, not before the timeout`);
});

test('a body shorter than its Content-Length is closed by the timeout, not kept forever', async () => {
  const entry = signedXml(signer, draft());
  const socket = await openSocket(base);
  socket.write(head('/metadata', Buffer.byteLength(entry) + 100) + entry);
  const { received } = await untilClosed(socket, BODY_S * 1000 + SLACK_MS);
  assert.match(received, /^HTTP\/1\.1 408 /);
  const list = await send(base, 'GET', '/metadata?media=json', { headers: { accept: 'application/json' } });
  assert.equal((JSON.parse(list.text) as { total: number }).total, 0, 'nothing of it was stored');
});

test('a body trickled a byte at a time, never idle, is closed by the whole-body deadline', async () => {
  const socket = await openSocket(base);
  socket.write(head('/metadata', 10_000));
  const trickle = setInterval(() => { if (!socket.destroyed) socket.write(' '); }, 250);
  try {
    const { received, ms } = await untilClosed(socket, BODY_S * 1000 + SLACK_MS);
    assert.match(received, /^HTTP\/1\.1 408 /);
    assert.ok(ms < IDLE_S * 1000 + SLACK_MS);
  } finally {
    clearInterval(trickle);
  }
});

test('headers that never end are closed by the headers timeout', async () => {
  const socket = await openSocket(base);
  socket.write('POST /metadata HTTP/1.1\r\nHost: stratus\r\nX-Slow: ');
  const trickle = setInterval(() => { if (!socket.destroyed) socket.write('a'); }, 250);
  try {
    await untilClosed(socket, 2_000 + SLACK_MS);
  } finally {
    clearInterval(trickle);
  }
});

test('the memory held for unfinished bodies is bounded: past it, 503 with Retry-After; all of it is given back', async () => {
  // 24 stalled bodies of 60 KiB would hold 1.4 MiB; the server holds at most 1 MiB.
  const sockets = await Promise.all(Array.from({ length: 20 }, () => stalled(60 * 1024, 64_000)));
  const answers = await Promise.all(sockets.map((s) => untilClosed(s, BODY_S * 1000 + SLACK_MS)));
  const busy = answers.filter((a) => /^HTTP\/1\.1 503 /.test(a.received));
  assert.ok(busy.length >= 3, `${busy.length} of 20 refused as busy`);
  for (const a of busy) {
    assert.match(a.received, /\r\nretry-after: \d+\r\n/i);
    assert.match(a.received, /\r\nx-stratus-error: SERVER_BUSY\r\n/i);
  }
  assert.ok(answers.every((a) => /^HTTP\/1\.1 (408|503) /.test(a.received)), answers.map((a) => a.received.slice(0, 12)).join(','));
  const ok = await send(base, 'POST', '/metadata', { headers: { 'content-type': 'application/xml' }, body: signedXml(signer, draft()) });
  assert.equal(ok.status, 201, `the budget came back: ${ok.text}`);
});

test('a refused body the client keeps trickling is still closed', async () => {
  const socket = await openSocket(base);
  // Over the 64 KiB entry limit: refused (413) at once, before any of it is read.
  socket.write(head('/metadata', 10_000_000));
  const trickle = setInterval(() => { if (!socket.destroyed) socket.write(' '); }, 250);
  try {
    const { received } = await untilClosed(socket, BODY_S * 1000 + SLACK_MS);
    assert.match(received, /^HTTP\/1\.1 413 /);
  } finally {
    clearInterval(trickle);
  }
});

test('connections per client address are capped; another address is still served', async () => {
  const held = await Promise.all(Array.from({ length: 24 }, () => openSocket(base, '127.0.0.5')));
  try {
    await sleep(200);
    const extra = await openSocket(base, '127.0.0.5');
    const { received } = await untilClosed(extra, 5_000);
    assert.equal(received, '', 'closed at once, unanswered');
    const other = await send(base, 'GET', '/metadata?media=json', { headers: { accept: 'application/json' }, localAddress: '127.0.0.6' });
    assert.equal(other.status, 200);
  } finally {
    for (const s of held) s.destroy();
  }
  await sleep(200);
  const again = await send(base, 'GET', '/metadata?media=json', { headers: { accept: 'application/json' }, localAddress: '127.0.0.5' });
  assert.equal(again.status, 200, 'the address is served again once its connections closed');
});

test('a slow but steady pdisk upload, longer than the body timeout, completes; a stalled one is closed by the idle timeout and leaves nothing', async () => {
  const gz = gzipSync(Buffer.alloc(4 * 1024 * 1024, 7));
  const chunks = 8;
  const size = Math.ceil(gz.length / chunks);
  const steady = await openSocket(base);
  steady.write(`POST /pswd/disks/?tag=steady HTTP/1.1\r\nHost: stratus\r\nAuthorization: ${basic(ADMIN)}\r\nContent-Type: application/gzip\r\nAccept: application/json\r\nContent-Length: ${gz.length}\r\nConnection: close\r\n\r\n`);
  const done = untilClosed(steady, 60_000);
  for (let i = 0; i < chunks; i++) {
    steady.write(gz.subarray(i * size, (i + 1) * size));
    await sleep((BODY_S * 1000 * 2) / chunks);
  }
  const { received } = await done;
  assert.match(received, /^HTTP\/1\.1 201 /, received.slice(0, 300));

  const stalledUpload = await openSocket(base);
  stalledUpload.write(`POST /pswd/disks/?tag=stalled HTTP/1.1\r\nHost: stratus\r\nAuthorization: ${basic(ADMIN)}\r\nContent-Type: application/gzip\r\nContent-Length: ${gz.length}\r\n\r\n`);
  stalledUpload.write(gz.subarray(0, size));
  const { ms } = await untilClosed(stalledUpload, IDLE_S * 1000 + SLACK_MS);
  assert.ok(ms >= IDLE_S * 1000 - 500, `closed after ${ms} ms`);
  await sleep(500);
  const list = await send(base, 'GET', '/pswd/disks/', { headers: { authorization: basic(ADMIN), accept: 'application/json' } });
  assert.deepEqual((JSON.parse(list.text) as Array<{ tag: string }>).map((v) => v.tag), ['steady']);
  assert.deepEqual(readdirSync(join(server.dataDir, 'volumes', '.tmp')), [], 'no temporary file left');
});
