import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServerProcess } from './server.js';
import type { ServerProcess } from './server.js';
import { tempDir } from './tmp.js';

export const ADMIN_PASSWORD = 'admin-security-tests';
export const ADMIN = { username: 'admin', password: ADMIN_PASSWORD };

/** `stratus serve` as its own process, with `cfg` as its stratus.cfg and a known admin password. */
export async function startConfiguredServer(cfg = ''): Promise<ServerProcess> {
  const dataDir = join(tempDir('stratus-security-'), 'data');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'stratus.cfg'), cfg);
  return startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN_PASSWORD });
}

export function basic(user: { username: string; password: string }): string {
  return 'Basic ' + Buffer.from(`${user.username}:${user.password}`).toString('base64');
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  ms: number;
}

/**
 * One request on its own connection, with every header as given (Host, Origin and
 * Sec-Fetch-Site included, which fetch would not let a test set), optionally from another
 * loopback address, as a different client would come.
 */
export function send(base: string, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer; localAddress?: string; timeoutMs?: number } = {}): Promise<RawAnswer> {
  const url = new URL(path, base);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const req = httpRequest(url, {
      method,
      agent: false,
      headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...opts.headers },
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.timeoutMs !== undefined) {
      req.setTimeout(opts.timeoutMs, () => req.destroy(new Error(`${method} ${path}: no complete answer within ${opts.timeoutMs} ms`)));
    }
    req.end(body);
  });
}

/** A raw TCP connection to the server, for requests a well-behaved client would never send. */
export function openSocket(base: string, localAddress?: string): Promise<Socket> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), ...(localAddress ? { localAddress } : {}) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** What the server sent on `socket` until it closed it, and how long that took (rejects after `limitMs`). */
export function untilClosed(socket: Socket, limitMs: number): Promise<{ received: string; ms: number }> {
  const t0 = performance.now();
  let received = '';
  socket.on('data', (d: Buffer) => { received += d.toString('latin1'); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${limitMs} ms; it sent: ${received.slice(0, 300)}`));
    }, limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ received, ms: performance.now() - t0 });
    });
    socket.on('error', () => { /* a reset is a close too */ });
  });
}
