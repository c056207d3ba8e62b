/** Small helpers shared by the benchmarks: timing, percentiles, and a results line. */
import { spawnSync } from 'node:child_process';

export function timeCommand(cmd: string, args: string[], opts: { cwd?: string; shell?: boolean } = {}): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'ignore', 'pipe'], shell: opts.shell ?? false });
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

export function report(title: string, rows: Array<[string, string]>): void {
  process.stdout.write(`\n## ${title}\n\n| measure | value |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`);
}
