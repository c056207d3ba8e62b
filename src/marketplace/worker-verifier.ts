import { Worker } from 'node:worker_threads';
import { StratusError } from '../domain/errors.js';
import type { ErrorCode } from '../domain/errors.js';
import type { TrustSettings, UploadVerifier, VerifiedUpload } from './verifier.js';
import type { EntryFields } from '../domain/entry-fields.js';

/** What each worker gets, as plain data (it crosses to the thread by structured clone). */
export interface WorkerSettings {
  maxBytes?: number;
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
}

/**
 * A pool of verify-worker threads. Each upload goes to the worker with the fewest uploads in
 * flight; a worker that dies fails its pending uploads and is replaced.
 */
export function workerVerifier(threads: number, settings: WorkerSettings): UploadVerifier {
  let nextId = 0;
  let closed = false;
  const spawnSlot = (): Slot => {
    const slot: Slot = { worker: new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: settings }), pending: new Map() };
    slot.worker.on('message', (m: { id: number; result?: VerifiedUpload; error?: { code: ErrorCode; message: string; hint: string } }) => {
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      if (m.error) p.reject(new StratusError(m.error.code, m.error.message, m.error.hint ? { hint: m.error.hint } : {}));
      else p.resolve(m.result as VerifiedUpload);
    });
    const fail = (err: unknown): void => {
      for (const p of slot.pending.values()) p.reject(new StratusError('INTERNAL', `upload verifier failed: ${err instanceof Error ? err.message : String(err)}`));
      slot.pending.clear();
      if (!closed) slots[slots.indexOf(slot)] = spawnSlot();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => { if (!closed && code !== 0) fail(new Error(`worker exited with ${code}`)); });
    slot.worker.unref();
    return slot;
  };
  const slots: Slot[] = Array.from({ length: Math.max(1, threads) }, spawnSlot);
  return {
    verify(body) {
      const slot = slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
      const id = nextId++;
      return new Promise<VerifiedUpload>((resolve, reject) => {
        slot.pending.set(id, { resolve, reject });
        slot.worker.postMessage({ id, body: typeof body === 'string' ? body : new Uint8Array(body) });
      });
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
