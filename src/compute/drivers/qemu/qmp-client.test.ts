import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { QmpClient } from './qmp-client.js';
import { tempDir } from '../../../../test/helpers/tmp.js';
import { isStratusError } from '../../../domain/errors.js';

/** A real QEMU with no machine at all: the cheapest honest QMP peer. */
async function startQemu(dir: string): Promise<{ sock: string; exited: Promise<number | null> }> {
  const sock = join(dir, 'qmp.sock');
  const child = spawn('qemu-system-x86_64', ['-machine', 'none', '-nodefaults', '-display', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { sock, exited };
}

test('QMP: capabilities, query-status, a command error, and the SHUTDOWN event on quit', async () => {
  const { sock, exited } = await startQemu(tempDir());
  const qmp = await QmpClient.connectWhenListening(sock, Date.now() + 10_000, () => undefined);
  const status = await qmp.execute<{ status: string; running: boolean }>('query-status');
  assert.equal(status.status, 'prelaunch');
  assert.equal(status.running, false);
  await assert.rejects(qmp.execute('no-such-command'), (e) => isStratusError(e, 'TOOL_FAILED') && /CommandNotFound/.test(e.message));
  const shutdown = qmp.waitForEvent('SHUTDOWN', 10_000);
  await qmp.execute('quit');
  assert.equal((await shutdown).event, 'SHUTDOWN');
  assert.equal(await exited, 0);
  await assert.rejects(qmp.execute('query-status'), (e) => isStratusError(e, 'TOOL_FAILED'));
  qmp.close();
});

test('QMP: connecting to a socket nobody serves fails clearly', async () => {
  await assert.rejects(QmpClient.connect(join(tempDir(), 'absent.sock'), 2000), (e) => isStratusError(e, 'TOOL_FAILED') && /cannot connect to QMP/.test(e.message));
});

test('QMP socket refused before QEMU listens: the start waits for the listener (the bridge VM test once failed at once with ECONNREFUSED)', async () => {
  // QEMU binds the socket file, then listens: in between, a connect is refused.
  const sock = join(tempDir(), 'qmp.sock');
  writeFileSync(sock, '');
  await assert.rejects(QmpClient.connect(sock, 1000), /ECONNREFUSED/);
  let server: Server | undefined;
  setTimeout(() => {
    rmSync(sock);
    server = createServer((c) => {
      c.write('{"QMP": {"version": {}, "capabilities": []}}\n');
      c.on('data', (d) => { const id = (JSON.parse(d.toString().trim()) as { id: number }).id; c.write(`{"return": {}, "id": ${id}}\n`); });
    }).listen(sock);
  }, 300);
  const qmp = await QmpClient.connectWhenListening(sock, Date.now() + 10_000, () => undefined);
  qmp.close();
  server?.close();
});

test('QMP socket never served: the start gives the reason QEMU went away, not a socket error', async () => {
  const sock = join(tempDir(), 'qmp.sock');
  writeFileSync(sock, '');
  let calls = 0;
  await assert.rejects(QmpClient.connectWhenListening(sock, Date.now() + 10_000, () => (++calls > 3 ? 'QEMU exited at start (code 1): tap busy' : undefined)),
    (e) => isStratusError(e, 'TOOL_FAILED') && e.message === 'QEMU exited at start (code 1): tap busy');
});
