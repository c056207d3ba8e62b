import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { StratusError, errorCatalogue } from '../domain/errors.js';
import type { ErrorCode } from '../domain/errors.js';
import { errorPage } from '../web/pages.js';
import { negotiate } from './negotiate.js';

/** Codes whose message StratusLab prefixed with "invalid metadata: " on upload. */
const INVALID_METADATA: ErrorCode[] = ['SIGNATURE_MISSING', 'SIGNATURE_INVALID', 'SIGNATURE_UNSUPPORTED', 'ENDORSER_INCONSISTENT', 'METADATA_INVALID', 'METADATA_UNSAFE', 'ENDORSEMENT_IN_FUTURE', 'TRUST_REJECTED'];

/** Fastify's own failures, mapped onto the catalogue. */
function fromFastify(e: FastifyError): StratusError {
  switch (e.code) {
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
  let e = error instanceof StratusError ? error : fromFastify(error as FastifyError);
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

function xmlEscape(s: string): string {
  return s.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'));
}
