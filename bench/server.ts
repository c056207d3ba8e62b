/** Starts `stratus serve` from the PATH on a free port for a benchmark, and stops it. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

export interface BenchServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startBenchServer(dataDir: string, extra: string[] = []): Promise<BenchServer> {
  const child = spawn('stratus', ['serve', '--data-dir', dataDir, '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Stratus serving (https?:\/\/\S+?)\/? /.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.on('exit', (c) => reject(new Error(`stratus serve exited ${c}: ${out}`)));
  });
  child.removeAllListeners('exit');
  return {
    url,
    child,
    stop: () => new Promise((r) => {
      child.once('exit', () => r());
      child.kill('SIGTERM');
    }),
  };
}
