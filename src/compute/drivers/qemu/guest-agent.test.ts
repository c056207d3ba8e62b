import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { GuestAgent } from './guest-agent.js';
import { tempDir } from '../../../../test/helpers/tmp.js';
import { isStratusError } from '../../../domain/errors.js';

/**
 * A fake qemu-guest-agent on a unix socket, as a hostile or confused guest could answer: the
 * unit tests of the client. The real agent is driven by test/vm/booted-base.test.ts.
 */
const servers: Server[] = [];
after(() => { for (const s of servers) s.close(); });

function fakeAgent(answer: (command: Record<string, unknown>, socket: Socket) => void, greeting = ''): Promise<{ path: string; server: Server }> {
  const path = join(tempDir(), 'agent.sock');
  const server = createServer((socket) => {
    // The client hangs up on a hostile reply while it is still being written.
    socket.on('error', () => undefined);
    if (greeting) socket.write(greeting);
    let buffer = '';
    socket.on('data', (d: Buffer) => {
      buffer += d.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        answer(JSON.parse(line) as Record<string, unknown>, socket);
      }
    });
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(path, () => resolve({ path, server })));
}

const args = (c: Record<string, unknown>): Record<string, unknown> => c.arguments as Record<string, unknown>;

/** The agent's answer to guest-sync-delimited: the byte 0xFF, then the reply. */
function synced(s: Socket, id: unknown): void {
  s.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(`${JSON.stringify({ return: id })}\n`)]));
}

test('guest agent: an earlier session\'s leftovers before the sync are skipped; exec gives the exit status, output and input', async () => {
  const { path, server } = await fakeAgent((c, s) => {
    if (c.execute === 'guest-sync-delimited') synced(s, args(c).id);
    else if (c.execute === 'guest-exec') {
      assert.equal(args(c).path, '/bin/sh');
      assert.equal(Buffer.from(String(args(c)['input-data']), 'base64').toString(), 'keys\n');
      s.write(`${JSON.stringify({ return: { pid: 7 } })}\n`);
    } else if (c.execute === 'guest-exec-status') {
      s.write(`${JSON.stringify({ return: { exited: true, exitcode: 3, 'out-data': Buffer.from('out').toString('base64'), 'err-data': Buffer.from('err').toString('base64') } })}\n`);
    }
  }, '{"return": {"half of an old reply');
  const agent = await GuestAgent.connect(path, 5000);
  const r = await agent.exec('/bin/sh', ['-c', 'true'], { input: 'keys\n', timeoutMs: 5000 });
  assert.deepEqual(r, { code: 3, stdout: 'out', stderr: 'err' });
  agent.close();
  server.close();
});

test('guest agent: a sync answered with another id is not taken as the agent\'s (it could be a stale reply), and the wait ends with the reason', async () => {
  const { path, server } = await fakeAgent((c, s) => {
    if (c.execute === 'guest-sync-delimited') synced(s, 12345);
  });
  await assert.rejects(GuestAgent.connect(path, 1500), (e) => isStratusError(e, 'INSTANCE_FAILED') && /answered the sync with 12345/.test(e.message) && /qemu-guest-agent/.test(e.message));
  server.close();
});

test('guest agent: what a hostile guest sends (not JSON, an error, no return, an endless line) fails the call clearly and never hangs', async () => {
  for (const [reply, expected] of [
    ['not json at all\n', /not JSON/],
    [`${JSON.stringify({ error: { class: 'GenericError', desc: 'nope' } })}\n`, /refused guest-exec: nope/],
    [`${JSON.stringify({ hello: 1 })}\n`, /has no "return"/],
    [`${JSON.stringify({ return: 'a string' })}\n`, /not an object/],
    ['x'.repeat(5 * 1024 * 1024), /a line of over/],
  ] as const) {
    const { path, server } = await fakeAgent((c, s) => {
      if (c.execute === 'guest-sync-delimited') synced(s, args(c).id);
      else s.write(reply);
    });
    const agent = await GuestAgent.connect(path, 5000);
    await assert.rejects(agent.exec('/bin/true', [], { timeoutMs: 5000 }), (e) => isStratusError(e, 'TOOL_FAILED') && expected.test(e.message), String(expected));
    agent.close();
    server.close();
  }
});

test('guest agent: a guest that never answers ends the wait at its timeout; a stopped machine ends it at once', async () => {
  const { path, server } = await fakeAgent(() => undefined);
  const t0 = Date.now();
  await assert.rejects(GuestAgent.connect(path, 1200), (e) => isStratusError(e, 'INSTANCE_FAILED') && /did not answer within/.test(e.message));
  assert.ok(Date.now() - t0 < 6000);
  await assert.rejects(GuestAgent.connect(path, 60_000, () => 'QEMU exited (crash)'), (e) => isStratusError(e, 'INSTANCE_FAILED') && /QEMU exited/.test(e.message));
  server.close();
});
