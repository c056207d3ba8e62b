import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { cliPath } from './paths.js';

export interface ServerProcess {
  url: string;
  dataDir: string;
  child: ChildProcess;
  /** Output so far, for assertions and failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts `stratus serve` as its own process on a free loopback port and waits for the line
 * that names its URL. The process is stopped when the test file ends.
 */
export async function startServerProcess(dataDir: string, extraArgs: string[] = [], env: Record<string, string> = {}): Promise<ServerProcess> {
  // Test servers share one host: each runs instances in user mode unless the test asks for a bridge.
  const network = extraArgs.includes('--network') ? [] : ['--network', 'user'];
  // Booted bases boot a VM of their own in the background: only the tests of them ask for them.
  if (!extraArgs.includes('--booted-bases')) network.push('--booted-bases', 'off');
  const child = spawn(process.execPath, [cliPath, 'serve', '--data-dir', dataDir, '--port', '0', ...network, ...extraArgs], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A server that never said it was ready must not outlive the test and hold it open.
      child.kill('SIGKILL');
      reject(new Error(`stratus serve did not start within 20 s:\n${output}`));
    }, 20_000);
    const onData = (d: Buffer): void => {
      output += d.toString();
      const m = /Stratus serving (https?:\/\/\S+?)\/? /.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (d: Buffer) => { output += d.toString(); });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stratus serve exited with ${code}:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  };
  after(stop);
  return { url, dataDir, child, log: () => output, stop };
}
