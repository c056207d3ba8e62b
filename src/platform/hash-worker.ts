import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';

/**
 * Hashes the chunks the main thread posts, with the algorithms it was started with, so that
 * a second core carries half of the digest work. Each chunk is acknowledged so the sender can
 * bound the memory in flight.
 */
const algorithms = (workerData as { algorithms: string[] }).algorithms;
const hashes: Hash[] = algorithms.map((a) => createHash(a));
const port = parentPort;
if (!port) throw new Error('hash-worker must run as a worker thread');

port.on('message', (msg: { chunk?: ArrayBuffer; end?: boolean }) => {
  if (msg.chunk) {
    const view = new Uint8Array(msg.chunk);
    for (const h of hashes) h.update(view);
    port.postMessage({ ack: msg.chunk.byteLength });
  } else if (msg.end) {
    port.postMessage({ digests: hashes.map((h) => h.digest('hex')) });
  }
});
