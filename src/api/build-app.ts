import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import { StratusError } from '../domain/errors.js';
import type { Services } from './services.js';
import { sendError } from './errors.js';
import { metadataRoutes } from './metadata.routes.js';
import { endorserRoutes } from './endorsers.routes.js';
import { volumeRoutes } from './volumes.routes.js';
import { userRoutes } from './users.routes.js';
import { xmlAnswerHeaders } from './xml-headers.js';

export interface AppOptions {
  /** Largest metadata upload, in bytes (default 1 MiB). */
  maxMetadataBytes?: number;
  /** Log requests (pino JSON lines) to stdout. */
  logger?: boolean;
  /**
   * Where internal errors are logged (JSON lines, with the request id the client was given)
   * when requests are not: default stderr.
   */
  errorLog?: NodeJS.WritableStream;
  /** Honour X-Forwarded-Proto/Host from a reverse proxy, as StratusLab's nginx set-up did. */
  trustProxy?: boolean;
  /** PEM certificate and key: serve HTTPS instead of HTTP. */
  https?: { cert: Buffer; key: Buffer };
}

/** Builds the HTTP application without listening, so tests can use inject(). */
export async function buildApp(services: Services, options: AppOptions = {}): Promise<FastifyInstance> {
  const maxBytes = options.maxMetadataBytes ?? 1024 * 1024;
  const app = Fastify({
    ...(options.https ? { https: options.https } : {}),
    // Internal errors are always logged: the client is told only their request id.
    logger: options.logger ? true : { level: 'error', stream: options.errorLog ?? process.stderr },
    // Random rather than Fastify's counter: ids stay unique across restarts and say nothing of the traffic.
    genReqId: () => randomBytes(8).toString('hex'),
    bodyLimit: maxBytes,
    trustProxy: options.trustProxy ?? false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
  });
  await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 10 } });
  xmlAnswerHeaders(app);
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(new StratusError('ROUTE_NOT_FOUND', `no such resource: ${request.method} ${request.url}`), request, reply));
  metadataRoutes(app, services.marketplace, maxBytes);
  endorserRoutes(app, services.marketplace);
  if (services.accounts) userRoutes(app, services.accounts);
  if (services.accounts && services.volumes) volumeRoutes(app, services.volumes, services.accounts);
  return app;
}
