import type { FastifyInstance } from 'fastify';
import { PAGE_CSP } from '../web/html.js';

/**
 * Everything that is not a page (XML, JSON, images, errors) may run nothing, load nothing and
 * is sandboxed into an origin of its own: a browser that renders a hostile entry's XML as a
 * document (XHTML script, SVG onload) then runs none of it, and could not reach this origin's
 * routes with the user's credentials even if it did.
 */
export const DATA_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox";

/**
 * Adds the browser-facing security headers to every answer, errors included. A header a route
 * set itself (a stricter or route-specific CSP) is kept.
 */
export function securityHeaders(app: FastifyInstance): void {
  // A callback hook, not an async one: it runs on every answer, and the promise an async hook
  // makes showed in the search benchmark's latency.
  app.addHook('onSend', (_request, reply, payload, done) => {
    const set = (name: string, value: string): void => {
      if (!reply.hasHeader(name)) reply.header(name, value);
    };
    // XML answers (listings, entries, SPARQL results, errors) get DATA_CSP too: a browser shows
    // XML inline as a live document, and an entry's text must run nothing there.
    set('Content-Security-Policy', /^text\/html\b/i.test(String(reply.getHeader('content-type') ?? '')) ? PAGE_CSP : DATA_CSP);
    // Browsers must take the declared type: an entry served as XML is never sniffed into HTML.
    set('X-Content-Type-Options', 'nosniff');
    // frame-ancestors for old browsers: no page of this server is ever framed (clickjacking).
    set('X-Frame-Options', 'DENY');
    set('Referrer-Policy', 'same-origin');
    set('Cross-Origin-Opener-Policy', 'same-origin');
    done(null, payload);
  });
}
