import { parentPort, workerData } from 'node:worker_threads';
import { StratusError } from '../domain/errors.js';
import { compileTrust, verifyUpload } from './verifier.js';
import type { WorkerSettings } from './worker-verifier.js';

/**
 * A worker thread that runs the upload checks, so signature verification and XML work use
 * the machine's other cores while the main thread serves HTTP and writes the database.
 */
const data = workerData as WorkerSettings;
const trust = compileTrust(data.trust);
const port = parentPort;
if (!port) throw new Error('verify-worker must run as a worker thread');

port.on('message', (msg: { id: number; body: Uint8Array | string }) => {
  try {
    const body = typeof msg.body === 'string' ? msg.body : Buffer.from(msg.body.buffer, msg.body.byteOffset, msg.body.byteLength);
    const result = verifyUpload(body, { ...(data.maxBytes !== undefined ? { maxBytes: data.maxBytes } : {}), ...(data.maxCreatedAheadSeconds !== undefined ? { maxCreatedAheadSeconds: data.maxCreatedAheadSeconds } : {}), ...(trust ? { trust } : {}), ...(data.fields ? { fields: data.fields } : {}), now: () => new Date() });
    port.postMessage({ id: msg.id, result });
  } catch (e) {
    const error = e instanceof StratusError
      ? { code: e.code, message: e.message, hint: e.hint }
      : { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), hint: '' };
    port.postMessage({ id: msg.id, error });
  }
});
