import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { StratusError, errorCatalogue } from '../domain/errors.js';
import type { ErrorCode } from '../domain/errors.js';
import { errorPage } from '../web/pages.js';
import { negotiate } from './negotiate.js';

/** Codes whose message StratusLab prefixed with "invalid metadata: " on upload. */
const INVALID_METADATA: ErrorCode[] = ['SIGNATURE_MISSING', 'SIGNATURE_INVALID', 'SIGNATURE_UNSUPPORTED', 'ENDORSER_INCONSISTENT', 'METADATA_INVALID', 'METADATA_UNSAFE', 'ENDORSEMENT_IN_FUTURE', 'TRUST_REJECTED'];

/** Fastify's own failures, mapped onto the catalogue. */
function fromFastify(e: FastifyError, request: FastifyRequest): StratusError {
  switch (e.code) {
    case 'FST_ERR_VALIDATION':
      return invalidRequest(e, request);
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return new StratusError('XML_TOO_LARGE', `request body is over the limit: ${e.message}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new StratusError('PAYLOAD_UNSUPPORTED', `unsupported content type: ${e.message}`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new StratusError('USAGE', e.message);
    default:
      if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new StratusError('USAGE', e.message);
      return new StratusError('INTERNAL', e.message, { cause: e });
  }
}

/**
 * The one error → HTTP mapper. The body follows the client's Accept, as StratusLab's did.
 * An INTERNAL error's message may name files, SQL or stack frames, so the client gets only the
 * code and the request id; the detail goes to the server log under that id.
 */
export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  let e = error instanceof StratusError ? error : fromFastify(error as FastifyError, request);
  if (e.code === 'INTERNAL') {
    request.log.error({ err: error }, 'internal error');
    e = new StratusError('INTERNAL', `internal error (request id ${request.id})`, {
      hint: `Report request id ${request.id} to the server's operator; the server log has the detail under it.`,
    });
    reply.header('X-Request-Id', request.id);
  }
  let message = e.message;
  if (INVALID_METADATA.includes(e.code) && !message.startsWith('invalid metadata')) message = `invalid metadata: ${message}`;
  const status = errorCatalogue[e.code].status;
  reply.code(status).header('X-Stratus-Error', e.code);
  if (e.code === 'AUTH_REQUIRED') reply.header('WWW-Authenticate', 'Basic realm="Stratus", charset="UTF-8"');
  if (e.retryAfterS !== undefined) reply.header('Retry-After', String(e.retryAfterS));
  switch (negotiate(request, 'text')) {
    case 'xml':
      return reply.type('application/xml; charset=utf-8').send(`<?xml version="1.0" encoding="UTF-8" standalone="no"?><error>${xmlEscape(message)}</error>`);
    case 'json':
      return reply.type('application/json; charset=utf-8').send({ [String(status)]: message, code: e.code, hint: e.hint, ...(e.code === 'INTERNAL' ? { requestId: request.id } : {}) });
    case 'html':
      return reply.type('text/html; charset=utf-8').send(errorPage(status, message, e.hint));
    default:
      return reply.type('text/plain; charset=utf-8').send(`${message}\nhint: ${e.hint}\n`);
  }
}

/** One complaint of Ajv, as fastify hands it on. */
interface SchemaComplaint {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

const PLACES: Record<string, string> = { body: 'the request body', querystring: 'the query string', params: 'the path', headers: 'the headers' };

/**
 * A request that fails its route's schema (domain/routes), as USAGE: the field, what is wrong
 * with it and the value sent. Enumerations read as the listing's own check always has
 * (`unknown status=bogus: use one of …`); an empty value, which means the default, is
 * allowed but not offered.
 */
function invalidRequest(e: FastifyError & { validation?: SchemaComplaint[]; validationContext?: string }, request: FastifyRequest): StratusError {
  const complaint = e.validation?.[0];
  if (!complaint) return new StratusError('USAGE', e.message);
  const context = e.validationContext ?? 'body';
  const place = PLACES[context] ?? context;
  const data: unknown = context === 'querystring' ? request.query : context === 'params' ? request.params : context === 'headers' ? request.headers : request.body;
  const path = complaint.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  const value = path.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), data);
  const name = path.join('.');
  const hint = `See ${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} in GET /openapi.json, or docs/api.md.`;
  if (complaint.keyword === 'enum') {
    const allowed = (complaint.params.allowedValues as unknown[]).filter((v) => v !== '').map(String).join(', ');
    return new StratusError('USAGE', `unknown ${name}=${shown(value, false)}: use one of ${allowed}`, { hint: `Allowed values of ${name}: ${allowed} (see docs/api.md).` });
  }
  if (complaint.keyword === 'required') {
    const field = [...path, String(complaint.params.missingProperty)].join('.');
    return new StratusError('USAGE', `${field} is required (in ${place})`, { hint });
  }
  const what = name ? `${name} (in ${place})` : place;
  const rule = (complaint.message ?? 'is invalid').replace(/^must be (\w+(?:,\w+)+)$/, (_m, types: string) => `must be ${types.split(',').join(' or ')}`);
  return new StratusError('USAGE', `${what} ${rule}, not ${shown(value, true)}`, { hint });
}

/** A value sent, short enough for a message: strings as they are (or quoted), the rest as JSON. */
function shown(value: unknown, quote: boolean): string {
  if (typeof value === 'string') return (quote ? JSON.stringify(value) : value).slice(0, 64);
  if (value === undefined) return 'nothing';
  return (JSON.stringify(value) ?? String(value)).slice(0, 64);
}

function xmlEscape(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}
