import type { FastifyRequest } from 'fastify';
import { StratusError } from '../domain/errors.js';
import { contentType } from './negotiate.js';

/** What a request body is, by its Content-Type. */
export type BodyKind = 'none' | 'json' | 'form' | 'multipart' | 'xml' | 'image' | 'other';

const JSON_ONLY: readonly BodyKind[] = ['none', 'json'];
/** Every kind, in the order refusals name them. */
const KINDS: readonly BodyKind[] = ['none', 'json', 'form', 'multipart', 'xml', 'image', 'other'];

/**
 * The body kinds a route takes: those of the media types its table entry declares
 * (domain/routes: `body` and `rawBody`), and none at all unless a body is required. HTML forms
 * (urlencoded and multipart) are what a foreign page can make a browser send without asking,
 * so the table declares them only where StratusLab's clients or our web UI send them. A route
 * that declares no body, or is not in the table, takes JSON (or nothing).
 */
function acceptedKinds(request: FastifyRequest): readonly BodyKind[] {
  const route = request.routeOptions.config?.route;
  const types = [...Object.keys(route?.body ?? {}), ...Object.keys(route?.rawBody ?? {})];
  if (!route || types.length === 0) return JSON_ONLY;
  const kinds = new Set(types.map(kindOf));
  if (!route.bodyRequired) kinds.add('none');
  return KINDS.filter((k) => kinds.has(k));
}

/** Bodies that may take long to arrive (whole images): no short whole-body deadline for them. */
export function isStreamedUpload(request: FastifyRequest): boolean {
  const kind = bodyKind(request);
  return (kind === 'image' || kind === 'multipart') && /^\/(pswd\/)?disks\/?$/.test(routeOf(request));
}

export function bodyKind(request: FastifyRequest): BodyKind {
  const length = request.headers['content-length'];
  const chunked = request.headers['transfer-encoding'] !== undefined;
  // An empty body carries nothing, whatever its Content-Type says (old clients label them).
  if (!chunked && length === '0') return 'none';
  const type = contentType(request);
  if (type === '') return !chunked && length === undefined ? 'none' : 'other';
  return kindOf(type);
}

/** The kind of a media type (lower case, without parameters). */
function kindOf(type: string): BodyKind {
  if (type === 'application/json' || type.endsWith('+json')) return 'json';
  if (type === 'application/x-www-form-urlencoded') return 'form';
  if (type === 'multipart/form-data') return 'multipart';
  if (type === 'application/xml' || type === 'text/xml' || type === 'application/rdf+xml') return 'xml';
  if (type === 'application/gzip' || type === 'application/x-gzip' || type === 'application/octet-stream') return 'image';
  return 'other';
}

/** Refuses, before any of it is read, a body the route does not take. */
export function checkBodyKind(request: FastifyRequest): void {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return;
  const route = routeOf(request);
  if (!route) return; // no such route: the not-found answer follows
  const accepted = acceptedKinds(request);
  const kind = bodyKind(request);
  if (accepted.includes(kind)) return;
  const names = accepted.filter((k) => k !== 'none').map(describe).join(', ');
  throw new StratusError('PAYLOAD_UNSUPPORTED', `${request.method} ${route} takes ${names || 'no body'}, not ${contentType(request) || 'a body without Content-Type'}`, {
    hint: `Send ${names || 'no body'} (see docs/api.md).`,
  });
}

function routeOf(request: FastifyRequest): string {
  return (request.routeOptions.url ?? '').replace(/(.)\/$/, '$1');
}

function describe(kind: BodyKind): string {
  switch (kind) {
    case 'json': return 'application/json';
    case 'form': return 'an application/x-www-form-urlencoded form';
    case 'multipart': return 'a multipart/form-data form';
    case 'xml': return 'application/xml';
    case 'image': return 'application/gzip or application/octet-stream';
    default: return kind;
  }
}
