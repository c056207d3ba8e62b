import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cliPath } from './paths.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `stratus <args…>` from the compiled tree, as a user would (same dispatch as the
 * stratus-* links). HOME is pointed at `home` so no real user config leaks in.
 */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string; home?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: opts.home ?? opts.cwd ?? '/nonexistent', ...opts.env };
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Asserts that a command succeeded, showing its output when it did not. */
export function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** Runs stratus-* commands as one disk-service account against `endpoint`, from (and with HOME in) `work`. */
export function pdiskCli(endpoint: string, work: string): (who: { username: string; password: string }, args: string[], input?: string) => Promise<CliResult> {
  return (who, args, input) => runCli(args, {
    home: work, cwd: work, ...(input !== undefined ? { input } : {}),
    env: { STRATUSLAB_PDISK_ENDPOINT: endpoint, STRATUSLAB_USERNAME: who.username, STRATUSLAB_PASSWORD: who.password },
  });
}
