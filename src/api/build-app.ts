import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import { StratusError } from '../domain/errors.js';
import type { Services } from './services.js';
import { sendError } from './errors.js';
import { metadataRoutes } from './metadata.routes.js';
import { endorserRoutes } from './endorsers.routes.js';
import { actionRoutesOf } from './action.routes.js';
import { volumeRoutes } from './volumes.routes.js';
import { userRoutes } from './users.routes.js';
import { instanceRoutes } from './instances.routes.js';
import { BodyBudget } from './body.js';
import { checkBodyKind } from './body-policy.js';
import { DEFAULT_CONNECTION_LIMITS, limitConnections, serverOptions } from './connections.js';
import type { ConnectionLimits } from './connections.js';
import { originOf, refuseCrossSite } from './csrf.js';
import { DEFAULT_LOGIN_LIMITS, LoginGuard } from './login-guard.js';
import type { LoginLimits } from './login-guard.js';
import { securityHeaders } from './security-headers.js';
import { describeRoutes, serveDocument } from './openapi.js';
import { schemaOptions } from './serve.js';

/** The largest metadata entry by default: StratusLab's entries are a few KiB. */
export const DEFAULT_MAX_METADATA_BYTES = 64 * 1024;
/** Memory for metadata bodies being received, all requests together. */
export const DEFAULT_BODY_MEMORY_BYTES = 64 * 1024 * 1024;
/** Uploads without an account per client address and hour. */
export const DEFAULT_ANONYMOUS_UPLOADS_PER_HOUR = 120;
/** JSON and form bodies (accounts, volume fields, DataTables queries) are a few hundred bytes. */
const SMALL_BODY_LIMIT = 64 * 1024;

export interface AppOptions {
  /** Largest metadata upload, in bytes (default 64 KiB). */
  maxMetadataBytes?: number;
  /** Memory for metadata bodies being received, all requests together (default 64 MiB). */
  bodyMemoryBytes?: number;
  /** Uploads without an account per client address and hour (default 120; 0: accounts only; Infinity: unlimited). */
  anonymousUploadsPerHour?: number;
  /** Failed logins allowed per address and per account (default DEFAULT_LOGIN_LIMITS). */
  loginLimits?: LoginLimits;
  /** Connection caps and timeouts (default DEFAULT_CONNECTION_LIMITS). */
  connections?: Partial<ConnectionLimits>;
  /**
   * The URL clients reach the server by, for Location headers and the same-origin check; a
   * function when it is known only once the server listens (port 0).
   */
  publicUrl?: string | (() => string);
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
  const maxBytes = options.maxMetadataBytes ?? DEFAULT_MAX_METADATA_BYTES;
  const limits: ConnectionLimits = { ...DEFAULT_CONNECTION_LIMITS, ...options.connections };
  const server = serverOptions(limits);
  const app = Fastify({
    ...(options.https ? { https: { ...server.http, ...options.https } } : {}),
    ...server,
    // Internal errors are always logged: the client is told only their request id.
    logger: options.logger ? true : { level: 'error', stream: options.errorLog ?? process.stderr },
    // Random rather than Fastify's counter: ids stay unique across restarts and say nothing of the traffic.
    genReqId: () => randomBytes(8).toString('hex'),
    bodyLimit: SMALL_BODY_LIMIT,
    trustProxy: options.trustProxy ?? false,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    ...schemaOptions,
  });
  const publicUrl = options.publicUrl;
  const ownUrl = typeof publicUrl === 'function' ? publicUrl : (): string => publicUrl ?? '';
  app.decorate('publicUrl', ownUrl);
  app.decorate('loginGuard', new LoginGuard(options.loginLimits ?? DEFAULT_LOGIN_LIMITS));
  limitConnections(app, limits);
  securityHeaders(app);
  refuseCrossSite(app, () => (ownUrl() ? [originOf(ownUrl())] : []));
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      checkBodyKind(request);
      done();
    } catch (e) {
      done(e as Error);
    }
  });
  await app.register(multipart, { limits: { fileSize: maxBytes, files: 1, fields: 10 } });
  await describeRoutes(app);
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(new StratusError('ROUTE_NOT_FOUND', `no such resource: ${request.method} ${request.url}`), request, reply));
  serveDocument(app);
  metadataRoutes(app, services.marketplace, {
    maxBytes,
    budget: new BodyBudget(options.bodyMemoryBytes ?? DEFAULT_BODY_MEMORY_BYTES),
    anonymousUploadsPerHour: options.anonymousUploadsPerHour ?? DEFAULT_ANONYMOUS_UPLOADS_PER_HOUR,
    ...(services.accounts ? { accounts: services.accounts } : {}),
  });
  actionRoutesOf(app, services.marketplace);
  endorserRoutes(app, services.marketplace);
  if (services.accounts) userRoutes(app, services.accounts);
  if (services.accounts && services.volumes) volumeRoutes(app, services.volumes, services.accounts);
  if (services.accounts && services.instances) instanceRoutes(app, services.instances, services.accounts);
  return app;
}
