/**
 * For the verifier pool's tests only (see crashing-verify-worker.ts): a body of `crash:throw`
 * throws out of the message handler (an uncaught exception ends the thread), `crash:exit`
 * calls process.exit(7). Either way the real worker's listener never sees the message.
 */
import { parentPort } from 'node:worker_threads';

parentPort?.addEventListener('message', (event) => {
  const msg = (event as MessageEvent<{ body: Uint8Array | string }>).data;
  const body = typeof msg.body === 'string' ? msg.body : Buffer.from(msg.body).toString('utf8');
  if (!body.startsWith('crash:')) return;
  event.stopImmediatePropagation();
  if (body === 'crash:throw') throw new Error('verifier crashed on purpose');
  process.exit(7);
});
