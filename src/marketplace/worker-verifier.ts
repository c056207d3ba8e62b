import { Worker } from 'node:worker_threads';
import { StratusError } from '../domain/errors.js';
import type { ErrorCode } from '../domain/errors.js';
import type { TrustSettings, UploadVerifier, VerifiedUpload } from './verifier.js';
import type { EntryFields } from '../domain/entry-fields.js';

/** What each worker gets, as plain data (it crosses to the thread by structured clone). */
export interface WorkerSettings {
  maxBytes?: number;
  maxCreatedAheadSeconds?: number;
  trust?: TrustSettings;
  fields?: EntryFields;
}

interface Pending {
  resolve: (v: VerifiedUpload) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  dead: boolean;
}

/** What tests may change: the worker script, and a look at every worker the pool starts. */
export interface PoolOptions {
  script?: URL;
  onSpawn?: (worker: Worker) => void;
}

/**
 * A pool of verify-worker threads. Each upload goes to the worker with the fewest uploads in
 * flight. A worker that dies fails the uploads it held, each once (an upload that crashes a
 * worker is not retried, so it cannot take the others down in turn), and is replaced.
 * close() stops every worker, replacements included, and fails what is still pending.
 */
export function workerVerifier(threads: number, settings: WorkerSettings, options: PoolOptions = {}): UploadVerifier {
  let nextId = 0;
  let closed = false;
  const script = options.script ?? new URL('./verify-worker.js', import.meta.url);
  const spawnSlot = (): Slot => {
    const slot: Slot = { worker: new Worker(script, { workerData: settings }), pending: new Map(), dead: false };
    slot.worker.on('message', (m: { id: number; result?: VerifiedUpload; error?: { code: ErrorCode; message: string; hint: string } }) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (m.error) p.reject(new StratusError(m.error.code, m.error.message, m.error.hint ? { hint: m.error.hint } : {}));
      else p.resolve(m.result as VerifiedUpload);
    });
    // A crash emits 'error' and then 'exit': the first of the two fails the slot.
    const fail = (why: string): void => {
      if (slot.dead) return;
      slot.dead = true;
      failPending(slot, `upload verifier worker ${why}`);
      const i = slots.indexOf(slot);
      if (!closed && i >= 0) slots[i] = spawnSlot();
    };
    slot.worker.on('error', (e) => fail(`failed: ${e.message}`));
    slot.worker.on('exit', (code) => fail(`exited with status ${code}`));
    slot.worker.unref();
    options.onSpawn?.(slot.worker);
    return slot;
  };
  const slots: Slot[] = Array.from({ length: Math.max(1, threads) }, spawnSlot);
  return {
    verify(body) {
      if (closed) return Promise.reject(new StratusError('INTERNAL', 'the upload verifier is closed'));
      const slot = slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = nextId++;
      return new Promise<VerifiedUpload>((resolve, reject) => {
        slot.pending.set(id, { resolve, reject });
        slot.worker.postMessage({ id, body: typeof body === 'string' ? body : new Uint8Array(body) });
      });
    },
    async close() {
      closed = true;
      for (const s of slots) {
        s.dead = true;
        failPending(s, 'stopped: the server is shutting down');
      }
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}

function failPending(slot: Slot, why: string): void {
  for (const p of slot.pending.values()) p.reject(new StratusError('INTERNAL', why));
  slot.pending.clear();
}
