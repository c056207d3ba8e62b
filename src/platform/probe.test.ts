import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { waitForSshBanner } from './probe.js';

test('the SSH probe holds one connection at a time (eight at once flooded sshd and its first login was refused)', async () => {
  // Like QEMU's slirp before the guest has an address: connections are accepted and then say
  // nothing. From `readyAt` on, new connections get a banner.
  const readyAt = Date.now() + 1000;
  const held: Socket[] = [];
  let open = 0;
  let mostOpen = 0;
  const srv = createServer((s) => {
    mostOpen = Math.max(mostOpen, ++open);
    s.on('close', () => open--);
    if (Date.now() < readyAt) held.push(s);
    else s.end('SSH-2.0-test\r\n');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const banner = await waitForSshBanner('127.0.0.1', (srv.address() as AddressInfo).port, 10_000);
    assert.equal(banner, 'SSH-2.0-test');
    assert.equal(mostOpen, 1, `${mostOpen} probe connections were open at once`);
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
