/**
 * The pool of verify-worker threads (src/marketplace/worker-verifier.ts), driven directly with
 * real worker threads: real verification, and workers that really crash (an uncaught exception,
 * process.exit) through the test-only worker script test/helpers/crashing-verify-worker.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { isStratusError } from '../../src/domain/errors.js';
import { workerVerifier } from '../../src/marketplace/worker-verifier.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

// The pool's workers are unref'd (a server's listening socket keeps it alive); here a timer does.
const keepAlive = setInterval(() => undefined, 60_000);
after(() => clearInterval(keepAlive));

const signer = makeSigner(tempDir(), 'Pool Tester', 'pool@example.org');
const script = new URL('../helpers/crashing-verify-worker.js', import.meta.url);

/** A pool of `threads` workers running the crashable script; every worker it starts is recorded with its exit. */
function pool(threads: number): { verifier: ReturnType<typeof workerVerifier>; workers: Worker[]; exits: Map<Worker, Promise<unknown>> } {
  const workers: Worker[] = [];
  const exits = new Map<Worker, Promise<unknown>>();
  const verifier = workerVerifier(threads, {}, {
    script,
    onSpawn: (w) => {
      workers.push(w);
      // Not events.once: it would reject on the 'error' that comes before a crashed worker's exit.
      exits.set(w, new Promise((resolve) => w.once('exit', resolve)));
    },
  });
  return { verifier, workers, exits };
}

async function settled<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

test('the pool verifies real entries on its threads and reports their errors with their codes', async () => {
  const { verifier } = pool(2);
  try {
    const xml = signedXml(signer, draft());
    const results = await Promise.all(Array.from({ length: 6 }, () => verifier.verify(xml)));
    for (const r of results) assert.equal(r.entry.endorsement.email, 'pool@example.org');
    await assert.rejects(verifier.verify('<not xml'), (e: unknown) => isStratusError(e, 'XML_MALFORMED'));
    await assert.rejects(verifier.verify(Buffer.from(xml.replace('Minimal Debian', 'Tampered Debian'))), (e: unknown) => isStratusError(e, 'SIGNATURE_INVALID'));
  } finally {
    await verifier.close();
  }
});

for (const how of ['throw', 'exit'] as const) {
  test(`a worker that crashes (${how}) fails its request once and gets exactly one replacement (regression: a thrown crash fired both error and exit and started two, one out of close()'s reach)`, async () => {
    const { verifier, workers, exits } = pool(2);
    try {
      const xml = signedXml(signer, draft());
      assert.equal(workers.length, 2);
      let rejections = 0;
      const crashed = verifier.verify(`crash:${how}`).catch((e: unknown) => {
        rejections++;
        throw e;
      });
      const r = await settled(crashed);
      assert.equal(r.ok, false);
      assert.ok(!r.ok && isStratusError(r.error, 'INTERNAL'), `expected INTERNAL, got ${String(!r.ok && r.error)}`);
      assert.match((r as { error: Error }).error.message, how === 'exit' ? /exited with status 7/ : /verifier crashed on purpose/);
      // Both 'error' and 'exit' fire for a thrown crash: still one replacement, one rejection.
      await Promise.race([...exits.values()]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(rejections, 1, 'the crashed request is failed exactly once');
      assert.equal(workers.length, 3, `one replacement worker, not ${workers.length - 2}`);
      // Every later request is served, on the survivor and on the replacement.
      const later = await Promise.all(Array.from({ length: 6 }, () => verifier.verify(xml)));
      assert.equal(later.length, 6);
      assert.equal(workers.length, 3);
    } finally {
      await verifier.close();
    }
    for (const w of workers) await exits.get(w);
    assert.ok(workers.every((w) => w.threadId === -1), 'close() stopped every worker, the replacement included');
  });
}

test('close() stops every worker, fails what is pending, and refuses later requests', async () => {
  const { verifier, workers, exits } = pool(3);
  const xml = signedXml(signer, draft());
  // Requests in flight when the pool closes are failed, not left hanging.
  const inFlight = Array.from({ length: 9 }, () => settled(verifier.verify(xml)));
  await verifier.close();
  const outcomes = await Promise.all(inFlight);
  for (const o of outcomes) assert.ok(o.ok || isStratusError(o.error, 'INTERNAL'), `in-flight request: ${o.ok ? 'ok' : String(o.error)}`);
  await Promise.all(workers.map((w) => exits.get(w)));
  assert.equal(workers.length, 3, 'no worker was started by the shutdown');
  assert.ok(workers.every((w) => w.threadId === -1));
  const after = await settled(verifier.verify(xml));
  assert.ok(!after.ok && isStratusError(after.error, 'INTERNAL') && /closed/.test((after.error as Error).message));
});
