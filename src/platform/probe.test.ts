import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { waitForSshBanner } from './probe.js';

test('the SSH probe sees the banner promptly although earlier connections hang (slirp held each probe for 3 s)', async () => {
  // Like QEMU's slirp before the guest has an address: connections are accepted and then say
  // nothing. From `readyAt` on, new connections get a banner.
  const readyAt = Date.now() + 1000;
  const held: Socket[] = [];
  const srv = createServer((s) => {
    if (Date.now() < readyAt) held.push(s);
    else s.end('SSH-2.0-test\r\n');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const banner = await waitForSshBanner('127.0.0.1', (srv.address() as AddressInfo).port, 10_000);
    assert.equal(banner, 'SSH-2.0-test');
    assert.ok(Date.now() - readyAt < 600, `banner seen ${Date.now() - readyAt} ms after the server was ready`);
  } finally {
    for (const s of held) s.destroy();
    srv.close();
  }
});

test('the SSH probe gives up at its deadline and when the machine stops', async () => {
  const srv = createServer((s) => s.end('HTTP/1.0 400 nope\r\n'));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  try {
    await assert.rejects(waitForSshBanner('127.0.0.1', port, 600), /no SSH banner .* within 600 ms/);
    await assert.rejects(waitForSshBanner('127.0.0.1', port, 10_000, () => false), /stopped before SSH/);
  } finally {
    srv.close();
  }
});
