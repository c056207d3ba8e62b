import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { startOnFreeAddress } from './network.js';

const port = 40000 + (process.pid % 20000);
const servers: Server[] = [];

/** Stands in for QEMU: binds the forward, or fails the way QEMU does when it is taken. */
function bind(address: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', () => reject(new Error(`QEMU exited at start (code 1): Could not set up host forwarding rule 'tcp:${address}:${port}-:22'`)));
    srv.listen({ host: address, port, exclusive: true }, () => {
      servers.push(srv);
      resolve(srv);
    });
  });
}

test('two launches at once get different loopback addresses (they both got 127.100.0.2 and one QEMU failed)', async () => {
  try {
    const slowBind = async (a: string): Promise<Server> => {
      await new Promise((r) => setTimeout(r, 50));
      return bind(a);
    };
    const [a, b] = await Promise.all([startOnFreeAddress(new Set(), [port], slowBind), startOnFreeAddress(new Set(), [port], slowBind)]);
    assert.notEqual(a.address, b.address);
  } finally {
    for (const s of servers.splice(0)) s.close();
  }
});

test('an address taken between the probe and the bind is skipped, not fatal', async () => {
  const seen: string[] = [];
  try {
    const r = await startOnFreeAddress(new Set(), [port], async (a) => {
      seen.push(a);
      if (seen.length === 1) throw new Error("Could not set up host forwarding rule 'tcp:x'");
      return bind(a);
    });
    assert.equal(seen.length, 2);
    assert.notEqual(seen[0], seen[1]);
    assert.equal(r.address, seen[1]);
  } finally {
    for (const s of servers.splice(0)) s.close();
  }
});

test('other start failures are not retried', async () => {
  let calls = 0;
  await assert.rejects(startOnFreeAddress(new Set(), [port], async () => {
    calls++;
    throw new Error('QEMU exited at start (code 1): bad image');
  }), /bad image/);
  assert.equal(calls, 1);
});
