import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { after } from 'node:test';

/** One request as the server saw it. */
export interface SeenRequest {
  path: string;
  range?: string;
  ifRange?: string;
  status: number;
}

export interface Route {
  body: Buffer;
  /**
   * Instead of `body`: content made as it is sent (a decompression bomb need not exist
   * whole), with no Range support; `length` is announced as Content-Length when given.
   */
  stream?: () => AsyncIterable<Buffer>;
  length?: number;
  etag?: string;
  /** On the first request only: send this many bytes, then stall with the connection open. */
  stallAfter?: number;
  /** On the first request only: send this many bytes, then drop the connection. */
  dropAfter?: number;
}

/**
 * A small loopback web server for download tests: files with single-range support, ETag and
 * If-Range; a proxy prefix that forwards to another server (to put a stalling hop in front of
 * the disk service); and a log of every request. Stopped when the test file ends.
 */
export interface FileServer {
  url: string;
  port: number;
  requests: SeenRequest[];
  /** Body bytes sent for `path` so far, over every request. */
  sentFor(path: string): number;
  serve(path: string, route: Route): void;
  /** Answers `path` with a redirect to `location` (any text: the client must judge it). */
  redirect(path: string, location: string, status?: number): void;
  proxy(prefix: string, target: string, opts?: { stallAfter?: number }): void;
  close(): Promise<void>;
}

export async function startFileServer(): Promise<FileServer> {
  const routes = new Map<string, Route & { served: number }>();
  const proxies: Array<{ prefix: string; target: string; stallAfter?: number; served: number }> = [];
  const requests: SeenRequest[] = [];
  const sent = new Map<string, number>();
  const redirects = new Map<string, { location: string; status: number }>();

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const seen: SeenRequest = { path, status: 0, ...header(req, 'range', 'range'), ...header(req, 'if-range', 'ifRange') };
    requests.push(seen);
    const proxy = proxies.find((p) => path.startsWith(p.prefix));
    if (proxy) return forward(req, res, proxy, seen);
    const moved = redirects.get(path);
    if (moved) {
      seen.status = moved.status;
      res.writeHead(moved.status, { location: moved.location }).end();
      return;
    }
    const route = routes.get(path);
    if (!route) {
      seen.status = 404;
      res.writeHead(404).end('not found');
      return;
    }
    const first = route.served++ === 0;
    if (route.stream) return sendStream(res, route, seen, (n) => sent.set(path, (sent.get(path) ?? 0) + n));
    const size = route.body.length;
    const headers: Record<string, string> = { 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream', ...(route.etag ? { etag: route.etag } : {}) };
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const rangeOk = m && (req.headers['if-range'] === undefined || req.headers['if-range'] === route.etag);
    const start = rangeOk ? Number(m[1]) : 0;
    seen.status = rangeOk ? 206 : 200;
    res.writeHead(seen.status, { ...headers, 'content-length': String(size - start), ...(rangeOk ? { 'content-range': `bytes ${start}-${size - 1}/${size}` } : {}) });
    if (first && route.stallAfter !== undefined) {
      res.write(route.body.subarray(start, route.stallAfter));
      return; // never ends: the client has to give up or be killed
    }
    if (first && route.dropAfter !== undefined) {
      res.write(route.body.subarray(start, route.dropAfter), () => res.destroy());
      return;
    }
    sent.set(path, (sent.get(path) ?? 0) + size - start);
    res.end(route.body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  after(close);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    sentFor: (path) => sent.get(path) ?? 0,
    serve: (path, route) => { routes.set(path, { ...route, served: 0 }); },
    redirect: (path, location, status = 302) => { redirects.set(path, { location, status }); },
    proxy: (prefix, target, opts = {}) => { proxies.push({ prefix, target, served: 0, ...opts }); },
    close,
  };
}

/** Sends a made-up body with backpressure, counting what was written; stops when the client leaves. */
function sendStream(res: ServerResponse, route: Route, seen: SeenRequest, count: (n: number) => void): void {
  seen.status = 200;
  res.writeHead(200, { 'content-type': 'application/octet-stream', ...(route.length !== undefined ? { 'content-length': String(route.length) } : {}) });
  const body = Readable.from((route.stream as () => AsyncIterable<Buffer>)(), { objectMode: false });
  body.on('data', (chunk: Buffer) => count(chunk.length));
  res.on('close', () => body.destroy());
  body.on('error', () => res.destroy());
  body.pipe(res);
}

function forward(req: IncomingMessage, res: ServerResponse, proxy: { target: string; stallAfter?: number; served: number }, seen: SeenRequest): void {
  const first = proxy.served++ === 0;
  const headers = { ...req.headers };
  delete headers.host;
  const upstream = httpRequest(new URL(req.url ?? '/', proxy.target), { method: req.method, headers }, (up) => {
    seen.status = up.statusCode ?? 0;
    res.writeHead(up.statusCode ?? 502, up.headers);
    if (!(first && proxy.stallAfter !== undefined)) {
      up.pipe(res);
      return;
    }
    let left = proxy.stallAfter;
    up.on('data', (chunk: Buffer) => {
      if (left <= 0) return;
      res.write(chunk.subarray(0, left));
      left -= chunk.length;
      if (left <= 0) up.destroy(); // stall: the client's connection stays open, with nothing more
    });
  });
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}

function header<K extends string>(req: IncomingMessage, name: string, key: K): Partial<Record<K, string>> {
  const v = req.headers[name];
  return typeof v === 'string' ? { [key]: v } as Record<K, string> : {};
}
