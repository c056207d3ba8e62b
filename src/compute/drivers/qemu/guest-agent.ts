import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { randomInt } from 'node:crypto';
import { StratusError } from '../../../domain/errors.js';

/** What a command run by the guest agent gave back. */
export interface AgentResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Longest reply line taken from the guest: a guest writes every byte of it. */
const MAX_LINE = 4 * 1024 * 1024;

/**
 * A client of qemu-guest-agent over the socket of its virtio-serial channel (QEMU's `-chardev
 * socket`): one JSON command per line, one reply line each. The agent may hold half a reply
 * from an earlier client, so the session starts with guest-sync-delimited, whose reply follows
 * a 0xFF byte. What the guest sends is untrusted: lines are bounded and must parse.
 */
export class GuestAgent {
  private buffer = Buffer.alloc(0);
  private waiting: ((line: string | Error) => void) | undefined;
  private synced = false;
  private error: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.fail(new StratusError('TOOL_FAILED', 'the guest agent channel closed (QEMU exited)')));
    socket.on('error', (e) => this.fail(new StratusError('TOOL_FAILED', `guest agent channel: ${e.message}`)));
  }

  /**
   * Connects and synchronises, trying again until the agent in the guest answers (it starts
   * late in the guest's boot) or `timeoutMs` runs out; `gone` says when to stop early.
   */
  static async connect(path: string, timeoutMs: number, gone: () => string | undefined = () => undefined): Promise<GuestAgent> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      const why = gone();
      if (why) throw new StratusError('INSTANCE_FAILED', `the guest agent did not answer: ${why}`);
      const agent = await GuestAgent.open(path).catch((e: Error) => { last = e.message; return undefined; });
      if (agent) {
        try {
          await agent.sync(Math.min(3000, Math.max(500, deadline - Date.now())));
          return agent;
        } catch (e) {
          last = (e as Error).message;
          agent.close();
        }
      }
      if (Date.now() > deadline) throw new StratusError('INSTANCE_FAILED', `the guest agent did not answer within ${Math.round(timeoutMs / 1000)} s (${last}): the image needs qemu-guest-agent`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  private static open(path: string): Promise<GuestAgent> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => { s.removeAllListeners('error'); resolve(new GuestAgent(s)); });
      s.once('error', reject);
    });
  }

  /** Runs `path` with `args` (and `input` on its standard input) as root in the guest; waits at most `timeoutMs`. */
  async exec(path: string, args: string[], opts: { input?: string | Buffer; timeoutMs: number }): Promise<AgentResult> {
    const deadline = Date.now() + opts.timeoutMs;
    const input = opts.input === undefined ? {} : { 'input-data': Buffer.from(opts.input).toString('base64') };
    const started = await this.execute<{ pid?: unknown }>('guest-exec', { path, arg: args, ...input, 'capture-output': true }, opts.timeoutMs);
    const pid = started.pid;
    if (typeof pid !== 'number') throw new StratusError('TOOL_FAILED', 'the guest agent started no process');
    for (;;) {
      const s = await this.execute<{ exited?: unknown; exitcode?: unknown; signal?: unknown; 'out-data'?: unknown; 'err-data'?: unknown }>('guest-exec-status', { pid }, Math.max(1000, deadline - Date.now()));
      if (s.exited === true) {
        const code = typeof s.exitcode === 'number' ? s.exitcode : 128 + (typeof s.signal === 'number' ? s.signal : 0);
        return { code, stdout: decoded(s['out-data']), stderr: decoded(s['err-data']) };
      }
      if (Date.now() > deadline) throw new StratusError('TOOL_FAILED', `${path} did not end in the guest within ${Math.round(opts.timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private async sync(timeoutMs: number): Promise<void> {
    const id = randomInt(1, 2 ** 31);
    this.socket.write(`${JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } })}\n`);
    const reply = parseReply(await this.nextLine(timeoutMs), 'guest-sync-delimited');
    if (reply !== id) throw new StratusError('TOOL_FAILED', `the guest agent answered the sync with ${JSON.stringify(reply)}, not ${id}`);
  }

  private async execute<T>(command: string, args: Record<string, unknown>, timeoutMs: number): Promise<T> {
    this.socket.write(`${JSON.stringify({ execute: command, arguments: args })}\n`);
    const reply = parseReply(await this.nextLine(timeoutMs), command);
    if (reply === null || typeof reply !== 'object') throw new StratusError('TOOL_FAILED', `the guest agent's answer to ${command} is not an object`);
    return reply as T;
  }

  private nextLine(timeoutMs: number): Promise<string> {
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new StratusError('TOOL_FAILED', `the guest agent did not answer within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.waiting = (line) => {
        clearTimeout(timer);
        this.waiting = undefined;
        if (line instanceof Error) reject(line);
        else resolve(line);
      };
      this.deliver();
    });
  }

  private receive(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    if (!this.synced) {
      // Whatever came before the delimiter is an earlier session's leftover.
      const at = this.buffer.indexOf(0xff);
      if (at < 0) {
        if (this.buffer.length > MAX_LINE) this.buffer = Buffer.alloc(0);
        return;
      }
      this.buffer = this.buffer.subarray(at + 1);
      this.synced = true;
    }
    if (this.buffer.length > MAX_LINE && this.buffer.indexOf(0x0a) < 0) {
      this.fail(new StratusError('TOOL_FAILED', `the guest agent sent a line of over ${MAX_LINE} bytes`));
      return;
    }
    this.deliver();
  }

  private deliver(): void {
    if (!this.waiting || !this.synced) return;
    const nl = this.buffer.indexOf(0x0a);
    if (nl < 0) return;
    const line = this.buffer.subarray(0, nl).toString('utf8');
    this.buffer = this.buffer.subarray(nl + 1);
    this.waiting(line);
  }

  private fail(e: Error): void {
    this.error ??= e;
    this.waiting?.(e);
    this.socket.destroy();
  }
}

function parseReply(line: string, command: string): unknown {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch {
    throw new StratusError('TOOL_FAILED', `the guest agent's answer to ${command} is not JSON`);
  }
  if (msg && typeof msg === 'object' && 'error' in msg) {
    const err = (msg as { error?: { desc?: unknown } }).error;
    throw new StratusError('TOOL_FAILED', `the guest agent refused ${command}: ${String(err?.desc ?? 'error')}`.slice(0, 500));
  }
  if (!msg || typeof msg !== 'object' || !('return' in msg)) throw new StratusError('TOOL_FAILED', `the guest agent's answer to ${command} has no "return"`);
  return (msg as { return: unknown }).return;
}

function decoded(b64: unknown): string {
  return typeof b64 === 'string' ? Buffer.from(b64, 'base64').toString('utf8') : '';
}
