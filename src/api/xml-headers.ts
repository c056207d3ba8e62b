import type { FastifyInstance } from 'fastify';

/** An XML answer may load and run nothing, whatever markup it carries. */
export const XML_CSP = "default-src 'none'";

/**
 * Every XML answer (listings, single entries, SPARQL results, errors) can carry text an
 * endorser wrote, and a browser shows XML inline as a live document: it must neither sniff it
 * as something else nor run anything in it. This stands behind the upload checks, for entries
 * stored before they existed or written into the store some other way.
 */
export function xmlAnswerHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    const type = String(reply.getHeader('content-type') ?? '');
    if (/^[^;]*[/+]xml\s*(?:;|$)/i.test(type)) {
      reply.header('X-Content-Type-Options', 'nosniff');
      if (!reply.hasHeader('Content-Security-Policy')) reply.header('Content-Security-Policy', XML_CSP);
    }
    return payload;
  });
}
