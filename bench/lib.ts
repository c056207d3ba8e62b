/** Small helpers shared by the benchmarks: timing, percentiles, interleaved runs, and a results line. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { waitForSshBanner } from '../src/platform/probe.js';

export function timeCommand(cmd: string, args: string[], opts: { cwd?: string; shell?: boolean; env?: Record<string, string> } = {}): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'ignore', 'pipe'], shell: opts.shell ?? false, ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}) });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr?.toString()}`);
  return secs;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

/** "4.32 s (4.10–4.61)": the median and the range of a series of seconds. */
export function spread(xs: number[], digits = 2): string {
  return `${median(xs).toFixed(digits)} s (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
}

/** "0.62 (0.58–0.66)": the median and range of ratios. */
export function ratioSpread(xs: number[]): string {
  return `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
}

/** How many timed runs of each side (STRATUS_BENCH_RUNS, default 5). */
export function benchRuns(): number {
  const n = Number(process.env.STRATUS_BENCH_RUNS ?? 5);
  return Number.isInteger(n) && n > 0 ? n : 5;
}

/**
 * Flushes what earlier runs left dirty in the page cache (`sync`, untimed), so that no run pays
 * for the write-back of the one before. STRATUS_BENCH_SETTLE=0 skips it, to see what it changes.
 */
export async function settle(): Promise<void> {
  if (process.env.STRATUS_BENCH_SETTLE !== '0') spawnSync('sync');
  // Let the event loop see what happened while a spawnSync blocked it: a keep-alive socket the
  // server closed meanwhile must be dropped before the next request picks it (ECONNRESET).
  await new Promise((resolve) => setTimeout(resolve, 50));
}

/** The method line of a report: how the runs were made. */
export function method(runs: number): string {
  const settling = process.env.STRATUS_BENCH_SETTLE === '0' ? 'no `sync` between runs (STRATUS_BENCH_SETTLE=0)' : '`sync` before every run';
  return `${runs} rounds, ours and the anchor alternating which goes first, ${settling}; median (range)`;
}

export interface Interleaved {
  ours: number[];
  anchor: number[];
  /** ours / anchor within each round: the two ran next to each other, under the same load. */
  ratios: number[];
}

/**
 * Times `ours` and `anchor` `runs` times each, in rounds, alternating which goes first (ours
 * first in even rounds, the anchor in odd ones) so that neither always follows the other's
 * page-cache and write-back state; settle() comes before every timed run.
 */
export async function interleave(runs: number, ours: () => Promise<number> | number, anchor: () => Promise<number> | number): Promise<Interleaved> {
  const out: Interleaved = { ours: [], anchor: [], ratios: [] };
  for (let round = 0; round < runs; round++) {
    let o = 0;
    let a = 0;
    if (round % 2 === 0) {
      await settle();
      o = await ours();
      await settle();
      a = await anchor();
    } else {
      await settle();
      a = await anchor();
      await settle();
      o = await ours();
    }
    out.ours.push(o);
    out.anchor.push(a);
    out.ratios.push(o / a);
    process.stderr.write(`  round ${round + 1}/${runs}: ours ${o.toFixed(2)} s, anchor ${a.toFixed(2)} s, ratio ${(o / a).toFixed(2)}\n`);
  }
  return out;
}

export function report(title: string, rows: Array<[string, string]>): void {
  process.stdout.write(`\n## ${title}\n\n| measure | value |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`);
}

/** Milliseconds on the monotonic clock (the clock /proc's process start times use). */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

let ticksPerSecond: number | undefined;

/** When a process started, in nowMs() terms: /proc's start time, truncated to a clock tick (10 ms). */
export function processStartMs(pid: number): number {
  ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[19]) / ticksPerSecond) * 1000;
}

/** A TCP port free on loopback now. */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** "35 ms (33–37)": the median and range of a series of milliseconds. */
export function msSpread(xs: number[]): string {
  return `${median(xs).toFixed(0)} ms (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
}

/**
 * Waits for the SSH banner with src's probe (waitForSshBanner), in attempts of at most 1 s. Its
 * own attempts last 3 s, and in user mode QEMU's slirp holds a connection while the guest has no
 * address: that put the same bare ttylinux boot at 3.87 s or 6.64 s, on a 3 s grid.
 */
export async function sshBanner(host: string, port: number, isAlive: () => boolean = () => true, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await waitForSshBanner(host, port, 1000, isAlive);
      return;
    } catch (e) {
      if (Date.now() > deadline || !isAlive()) throw e;
    }
  }
}

/**
 * Polls `read()` (a console) every 50 ms for `pattern`; the returned function stops and gives
 * when it first matched, in ms after `t0` (nowMs), with the match.
 */
export function watchFor(pattern: RegExp, read: () => string, t0: number): () => { at: number; match: RegExpExecArray } | undefined {
  let found: { at: number; match: RegExpExecArray } | undefined;
  const timer = setInterval(() => {
    const match = pattern.exec(read());
    if (match) {
      found = { at: nowMs() - t0, match };
      clearInterval(timer);
    }
  }, 50);
  return () => {
    clearInterval(timer);
    return found;
  };
}

/** A reader of a file that may not exist yet (a serial log). */
export function fileText(path: string): () => string {
  return () => {
    try {
      return readFileSync(path, 'latin1');
    } catch {
      return '';
    }
  };
}

/** "6.48 s (6.47, 6.53)": the median and every value of a series of milliseconds, in seconds. */
export function secondsList(xs: number[]): string {
  return `${(median(xs) / 1000).toFixed(2)} s (${xs.map((x) => (x / 1000).toFixed(2)).join(', ')})`;
}

/**
 * Kills what a bench run left behind under its own folder `dir` (a QEMU that a failed kill or
 * an aborted run left), matched by that folder in its command line and killed by pid.
 */
export function killLeftovers(dir: string): void {
  try {
    const pids = execFileSync('pgrep', ['-f', `${dir}/`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      process.stderr.write(`killing leftover process ${pid}\n`);
      process.kill(pid, 'SIGKILL');
    }
  } catch {
    // none
  }
}
