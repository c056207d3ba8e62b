import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StratusError } from '../../domain/errors.js';
import { scpArgs, shellQuote, sshArgs, sshStopSharedArgs } from '../../platform/ssh.js';
import type { SshTarget } from '../../platform/ssh.js';

/** What a remote command did: its exit status (255: ssh itself failed) and its last lines of output. */
export interface RemoteResult {
  code: number;
  tail: string[];
}

/** The guest as the steps reach it: commands as root, and files copied in. */
export interface Remote {
  /** Runs `command` in root's shell; `output` sees its output as it comes. */
  run(command: string, opts?: { tty?: boolean; output?: (chunk: Buffer) => void; input?: Buffer }): Promise<RemoteResult>;
  /** Copies a local file to `to` on the guest. */
  copy(from: string, to: string): Promise<void>;
  /** Ends the commands still running (the VM is being killed) and the connection: done with the guest. */
  close?(): void;
}

/** A terminal's escape sequences (colours, cursor moves), which a -tt session's output may hold. */
const ESCAPES = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');

/**
 * The last `max` lines of a stream of output, carriage returns (a terminal's line ends) and
 * escape sequences dropped; each line bounded, so a script that prints one endless line
 * cannot fill memory.
 */
export class LineTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly max = 20, private readonly width = 400) {}

  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString().replace(ESCAPES, '').replace(/\r/g, '');
    const parts = text.split('\n');
    // One character more than the width, so that keep() knows the line was cut.
    this.partial = (parts.pop() ?? '').slice(0, this.width + 1);
    for (const line of parts) this.keep(line);
  }

  /** The kept lines, the unfinished last one included. */
  get(): string[] {
    return this.partial ? [...this.lines, cut(this.partial, this.width)].slice(-this.max) : [...this.lines];
  }

  private keep(line: string): void {
    this.lines.push(cut(line, this.width));
    if (this.lines.length > this.max) this.lines.shift();
  }
}

function cut(line: string, width: number): string {
  return line.length > width ? `${line.slice(0, width)}…` : line;
}

/**
 * The guest over the system's ssh and scp (reference §3: scp to /tmp, ssh -t to run). Guests
 * without scp (ttylinux's dropbear has no scp program, and OpenSSH's scp needs one, or an SFTP
 * server, on the other side) get the file through `cat` over ssh instead; that is found out
 * once per guest.
 */
export class SshRemote implements Remote {
  private scpWorks: boolean | undefined;
  private readonly running = new Set<ChildProcess>();
  /** Every command shares one connection (its socket in a private folder), ended by close(). */
  private readonly control = mkdtempSync(join(tmpdir(), 'stratus-ssh-'));
  private closed = false;
  private readonly target: SshTarget & { shared: { socket: string; persistS: number } };

  constructor(target: SshTarget, private readonly detail: (message: string) => void = () => undefined) {
    // The master outlives its last command by at most a minute, even if we are killed.
    this.target = { ...target, batch: true, shared: { socket: join(this.control, 'ssh'), persistS: 60 } };
  }

  run(command: string, opts: { tty?: boolean; output?: (chunk: Buffer) => void; input?: Buffer } = {}): Promise<RemoteResult> {
    return runTool('ssh', sshArgs(this.target, [command], { tty: opts.tty === true }), opts, this.running);
  }

  async copy(from: string, to: string): Promise<void> {
    let scp: RemoteResult | undefined;
    if (this.scpWorks !== false) {
      scp = await runTool('scp', scpArgs(this.target, from, to), {}, this.running);
      if (scp.code === 0) {
        this.scpWorks = true;
        return;
      }
      if (this.scpWorks === true) throw copyError(from, to, scp);
      this.detail(`scp to the guest failed (${scp.tail.at(-1) ?? `exit ${scp.code}`}): copying through ssh instead`);
    }
    const cat = await this.run(`cat > ${shellQuote(to)}`, { input: readFileSync(from) });
    if (cat.code !== 0) throw copyError(from, to, cat, scp);
    this.scpWorks = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const child of this.running) child.kill('SIGTERM');
    spawnSync('ssh', sshStopSharedArgs(this.target), { stdio: 'ignore', timeout: 5000 });
    rmSync(this.control, { recursive: true, force: true });
  }
}

function copyError(from: string, to: string, r: RemoteResult, scp?: RemoteResult): StratusError {
  const said = (x: RemoteResult): string => `exit ${x.code}: ${x.tail.slice(-3).join(' ')}`.trim();
  return new StratusError('TOOL_FAILED', `cannot copy ${from} to the guest's ${to} (${scp ? `scp: ${said(scp)}; ssh cat: ` : ''}${said(r)})`);
}

/**
 * Runs ssh or scp to its end, never with our terminal: stdin is a pipe (the input, or kept
 * open and empty so that a -tt session is not ended by an EOF), output goes to `output` and
 * the tail. A missing tool is exit 255 with the reason in the tail.
 */
function runTool(tool: string, args: string[], opts: { output?: (chunk: Buffer) => void; input?: Buffer }, running: Set<ChildProcess>): Promise<RemoteResult> {
  return new Promise((resolve) => {
    const tail = new LineTail();
    const child = spawn(tool, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(child);
    const take = (d: Buffer): void => {
      tail.push(d);
      opts.output?.(d);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.stdin.on('error', () => undefined);
    if (opts.input !== undefined) child.stdin.end(opts.input);
    child.on('error', (e: NodeJS.ErrnoException) => {
      running.delete(child);
      tail.push(`cannot run ${tool}: ${e.code === 'ENOENT' ? 'not installed' : e.message}\n`);
      resolve({ code: 255, tail: tail.get() });
    });
    child.on('close', (code) => {
      running.delete(child);
      child.stdin.destroy();
      resolve({ code: code ?? 255, tail: tail.get() });
    });
  });
}
