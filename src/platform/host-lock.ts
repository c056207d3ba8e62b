import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { processAlive } from './run.js';

/**
 * Runs `work` while holding a lock shared by every process of this host: a directory made
 * with mkdir (atomic), holding the owner's pid. A lock whose owner died is taken over.
 * For short critical sections across servers and tests, such as picking a free subnet and
 * putting it on a bridge before another process picks the same one.
 */
export async function withHostLock<T>(path: string, work: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder = 0;
      try {
        holder = Number(readFileSync(join(path, 'pid'), 'utf8'));
      } catch {
        // Just made and its pid not written yet: wait like for any holder.
      }
      if (holder && !processAlive(holder)) rmSync(path, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new StratusError('TOOL_FAILED', `the host lock ${path} is held by process ${holder || '?'} for over ${timeoutMs / 1000} s`);
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await work();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}
