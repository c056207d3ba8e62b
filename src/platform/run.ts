import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { StratusError } from '../domain/errors.js';

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a tool to completion with a timeout, capturing its output. A missing tool or a
 * non-zero exit is a TOOL_FAILED error that names the command and quotes its stderr.
 */
export function run(cmd: string, args: string[], opts: { cwd?: string; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new StratusError('TOOL_FAILED', `cannot run ${cmd}: ${e.code === 'ENOENT' ? 'not installed' : e.message}`, {
        hint: `Install it (npm run setup installs every tool Stratus uses).`,
      }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve({ stdout, stderr });
      const why = signal ? `killed by ${signal}` : `exit ${code}`;
      reject(new StratusError('TOOL_FAILED', `${cmd} ${args.join(' ')} failed (${why}): ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
    // A tool that exits without reading its input (qemu-img) closes the pipe first: that EPIPE
    // is no failure of its own (the exit code decides), and unhandled it crashed the process.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends a helper a previous run of ours left running (its server was killed, so nobody ended it):
 * the process named by `pidFile`, only when its command line is `tool` with that same pid file
 * in its arguments (a recycled PID is someone else's process). Waits up to 5 s for it to go.
 */
export async function endLeftover(pidFile: string, tool: string, pidFileArgument: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 1 || !processAlive(pid)) return;
  let cmdline: string[];
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return;
  }
  if (!(cmdline[0] ?? '').endsWith(tool) || !cmdline.includes(pidFileArgument)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}
