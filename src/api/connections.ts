import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { addressKey } from '../platform/rate-limit.js';
import { isStreamedUpload } from './body-policy.js';

/** Connection and timeout limits of the HTTP server (config keys: main/server-limits.ts). */
export interface ConnectionLimits {
  /** Open connections in all (further ones are closed at once). */
  maxConnections: number;
  /** Open connections per client address (IPv6: per /64); 0 turns the cap off (behind a proxy). */
  maxConnectionsPerAddress: number;
  /** A connection on which the client sends or reads nothing this long is closed. */
  idleTimeoutMs: number;
  /** The request line and headers must arrive within this. */
  headersTimeoutMs: number;
  /** A body the server buffers (metadata, JSON, forms) must arrive whole within this. */
  bodyTimeoutMs: number;
  /** Any request, streamed image uploads included, must arrive whole within this. */
  uploadTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Requests served on one connection before it is closed. */
  maxRequestsPerSocket: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 1024,
  maxConnectionsPerAddress: 128,
  idleTimeoutMs: 60_000,
  headersTimeoutMs: 20_000,
  bodyTimeoutMs: 30_000,
  uploadTimeoutMs: 4 * 3600_000,
  keepAliveTimeoutMs: 10_000,
  maxRequestsPerSocket: 10_000,
};

/** The Fastify constructor options that carry the limits. */
export function serverOptions(limits: ConnectionLimits): { connectionTimeout: number; keepAliveTimeout: number; requestTimeout: number; maxRequestsPerSocket: number; http: object } {
  return {
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.uploadTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    // Node checks the header and whole-request deadlines on this interval (30 s by default).
    http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: Math.max(100, Math.min(1000, limits.headersTimeoutMs / 2)) },
  };
}

/**
 * Applies the caps and timeouts that Fastify's options do not cover:
 * - a cap on connections in all and per client address;
 * - a whole-body deadline for bodies the server buffers, so a client trickling a byte now and
 *   then cannot hold a connection and its buffer (the idle timeout alone would not fire);
 * - an idle timeout that applies only while it is the client's turn: a request whose body has
 *   arrived (or that the server has not started or has paused reading) is not cut off while
 *   the server works on it, e.g. syncing a large upload to disk.
 */
export function limitConnections(app: FastifyInstance, limits: ConnectionLimits): void {
  const server = app.server;
  server.maxConnections = limits.maxConnections;
  const perAddress = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    if (limits.maxConnectionsPerAddress <= 0) return;
    const key = addressKey(socket.remoteAddress);
    const open = perAddress.get(key) ?? 0;
    if (open >= limits.maxConnectionsPerAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(key, open + 1);
    socket.once('close', () => {
      const n = (perAddress.get(key) ?? 1) - 1;
      if (n <= 0) perAddress.delete(key);
      else perAddress.set(key, n);
    });
  });
  // TLS servers emit 'connection' for the TCP socket too, so the count holds for HTTPS.

  const current = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();
  server.on('timeout', (socket: Socket) => {
    const exchange = current.get(socket);
    if (exchange && !exchange.res.headersSent && !exchange.res.writableEnded
      && (exchange.req.complete || exchange.req.readableFlowing !== true)) {
      return; // the server's turn
    }
    socket.destroy();
  });

  app.addHook('onRequest', (request, reply, done) => {
    watchBody(request, reply);
    done();
  });

  function watchBody(request: FastifyRequest, reply: FastifyReply): void {
    const socket = request.raw.socket;
    current.set(socket, { req: request.raw, res: reply.raw });
    const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
    if (!hasBody || request.raw.complete || isStreamedUpload(request)) return;
    // Kept after an early answer (a refusal): Node then reads and drops the rest of the body,
    // and a client trickling that rest must not hold the connection either.
    const timer = setTimeout(() => {
      if (request.raw.complete) return;
      if (!reply.raw.headersSent) socket.write('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      socket.destroy();
    }, limits.bodyTimeoutMs);
    timer.unref();
    const clear = (): void => clearTimeout(timer);
    request.raw.once('end', clear);
    request.raw.once('close', clear);
  }
}
