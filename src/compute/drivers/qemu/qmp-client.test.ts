import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { QmpClient } from './qmp-client.js';
import { tempDir } from '../../../../test/helpers/tmp.js';
import { isStratusError } from '../../../domain/errors.js';

/** A real QEMU with no machine at all: the cheapest honest QMP peer. */
async function startQemu(dir: string): Promise<{ sock: string; exited: Promise<number | null> }> {
  const sock = join(dir, 'qmp.sock');
  const child = spawn('qemu-system-x86_64', ['-machine', 'none', '-nodefaults', '-display', 'none', '-S', '-qmp', `unix:${sock},server=on,wait=off`], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  return { sock, exited };
}

test('QMP: capabilities, query-status, a command error, and the SHUTDOWN event on quit', async () => {
  const { sock, exited } = await startQemu(tempDir());
  const qmp = await QmpClient.connect(sock);
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
