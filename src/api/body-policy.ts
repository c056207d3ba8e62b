import type { FastifyRequest } from 'fastify';
import { StratusError } from '../domain/errors.js';
import { contentType } from './negotiate.js';

/** What a request body is, by its Content-Type. */
export type BodyKind = 'none' | 'json' | 'form' | 'multipart' | 'xml' | 'image' | 'other';

const JSON_ONLY: readonly BodyKind[] = ['none', 'json'];

/**
 * The body kinds each state-changing route takes. HTML forms (urlencoded and multipart) are
 * what a foreign page can make a browser send without asking, so they are accepted only where
 * StratusLab's clients or our web UI send them; everything else takes JSON (or nothing).
 * Keys are METHOD and the route's pattern; unlisted routes take JSON_ONLY.
 */
const ACCEPTED: Record<string, readonly BodyKind[]> = {
  // Uploads (raw XML, the web UI's multipart form) and DataTables' urlencoded listing query (§6.1).
  'POST /metadata': ['xml', 'multipart', 'form'],
  // pdisk (§7.2): StratusLab's clients create, update and mount with forms and upload
  // multipart; ours sends JSON and streams gzip or raw bytes.
  'POST /disks': ['none', 'json', 'form', 'multipart', 'image'],
  'PUT /disks/:uuid': ['none', 'json', 'form'],
  'POST /disks/:uuid': ['none', 'json', 'form'],
  'POST /disks/:uuid/mounts': ['none', 'json', 'form'],
};

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
  const key = `${request.method} ${route.replace(/^\/pswd(?=\/disks)/, '')}`;
  const accepted = ACCEPTED[key] ?? JSON_ONLY;
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
