import { createConnection } from 'node:net';
import type { Socket } from 'node:net';
import { StratusError } from '../../../domain/errors.js';

/** An asynchronous event QEMU sent (SHUTDOWN, POWERDOWN, DEVICE_DELETED, …). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * A QMP client over QEMU's unix socket: newline-delimited JSON, the greeting, then
 * qmp_capabilities; replies are matched to commands by id, errors become TOOL_FAILED
 * with QEMU's class and description, and events are kept for waitForEvent().
 */
export class QmpClient {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly events: QmpEvent[] = [];
  private readonly listeners = new Set<(e: QmpEvent) => void>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('close', () => this.fail(new StratusError('TOOL_FAILED', 'the QMP connection closed (QEMU exited)')));
    socket.on('error', (e) => this.fail(new StratusError('TOOL_FAILED', `QMP socket error: ${e.message}`)));
  }

  /** Connects, reads the greeting and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = createConnection(path);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new StratusError('TOOL_FAILED', `no QMP greeting on ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new StratusError('TOOL_FAILED', `cannot connect to QMP at ${path}: ${e.code ?? e.message}`));
      });
    });
    const client = new QmpClient(socket);
    await client.greeting(timeoutMs);
    await client.execute('qmp_capabilities');
    return client;
  }

  /**
   * Connects once QEMU listens. QEMU binds its socket before it listens, so the file can
   * exist while a connect is still refused (a loaded host widens that gap). Absence and
   * refusal are retried every 25 ms until `deadline`, or until `gone()` returns why QEMU
   * will never listen (it exited): then that reason is thrown.
   */
  static async connectWhenListening(path: string, deadline: number, gone: () => string | undefined): Promise<QmpClient> {
    for (;;) {
      const why = gone();
      if (why !== undefined) throw new StratusError('TOOL_FAILED', why);
      try {
        return await QmpClient.connect(path, Math.max(1000, deadline - Date.now()));
      } catch (e) {
        const notYet = /: (ENOENT|ECONNREFUSED)$/.test((e as Error).message);
        if (!notYet || Date.now() > deadline) throw e;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Runs a QMP command and returns its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    if (this.closed) return Promise.reject(new StratusError('TOOL_FAILED', `QMP ${command}: the connection is closed`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StratusError('TOOL_FAILED', `QMP ${command} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.socket.write(JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id }) + '\n');
    });
  }

  /** Resolves with the first event named `name` (including one already received). */
  waitForEvent(name: string, timeoutMs: number): Promise<QmpEvent> {
    const seen = this.events.find((e) => e.event === name);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new StratusError('TOOL_FAILED', `no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (e: QmpEvent): void => {
        if (e.event !== name) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(e);
      };
      this.listeners.add(listener);
    });
  }

  /**
   * Resolves with the next event named `name` that `match` accepts, received from now on
   * (unlike waitForEvent, an earlier one never counts: a device unplugged before had the
   * same id). Call it before the command whose event it waits for.
   */
  nextEvent(name: string, timeoutMs: number, match: (e: QmpEvent) => boolean = () => true): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const stop = this.onEvent((e) => {
        if (e.event !== name || !match(e)) return;
        clearTimeout(timer);
        stop();
        resolve(e);
      });
      const timer = setTimeout(() => {
        stop();
        reject(new StratusError('TOOL_FAILED', `no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
    });
  }

  /** Calls `listener` for every event from now on; returns the function that stops it. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events received so far. */
  received(): QmpEvent[] {
    return [...this.events];
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private greetingWaiter: ((v: unknown) => void) | undefined;

  private greeting(timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new StratusError('TOOL_FAILED', `no QMP greeting within ${timeoutMs} ms`)), timeoutMs);
      this.greetingWaiter = (v) => { clearTimeout(timer); resolve(v); };
    });
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('QMP' in msg) {
        this.greetingWaiter?.(msg.QMP);
        this.greetingWaiter = undefined;
      } else if ('event' in msg) {
        const e = msg as unknown as QmpEvent;
        this.events.push(e);
        for (const l of [...this.listeners]) l(e);
      } else if (typeof msg.id === 'number') {
        const p = this.pending.get(msg.id);
        if (!p) continue;
        this.pending.delete(msg.id);
        if ('error' in msg) {
          const err = msg.error as { class?: string; desc?: string };
          p.reject(new StratusError('TOOL_FAILED', `QMP error ${err.class ?? 'GenericError'}: ${err.desc ?? 'unknown'}`));
        } else {
          p.resolve(msg.return);
        }
      }
    }
  }

  private fail(e: Error): void {
    if (this.closed && this.pending.size === 0) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
