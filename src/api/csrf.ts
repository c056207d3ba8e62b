import type { FastifyInstance, FastifyRequest } from 'fastify';
import { StratusError } from '../domain/errors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Sec-Fetch-Site values of requests a page of this server (or the user) started. */
const OWN_SITES = new Set(['same-origin', 'none']);

/**
 * Refuses cross-site requests that change state, whatever credentials they carry: a browser
 * sends cached Basic credentials along with a form another site submits, so credentials prove
 * nothing about who asked. Browsers say where a request comes from (Origin, Sec-Fetch-Site);
 * StratusLab's clients and ours send neither, and are let through.
 *
 * `ownOrigins` gives the origins the server is known by (its public URL); the origin the
 * request itself was addressed to also counts, so a browser that reached the server by another
 * name (localhost for 127.0.0.1) can still use its web UI.
 */
export function refuseCrossSite(app: FastifyInstance, ownOrigins: () => string[]): void {
  app.addHook('onRequest', (request, _reply, done) => {
    done(SAFE_METHODS.has(request.method) ? undefined : crossSiteRefusal(request, ownOrigins));
  });
}

function crossSiteRefusal(request: FastifyRequest, ownOrigins: () => string[]): StratusError | undefined {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && !OWN_SITES.has(site.toLowerCase())) return refusal(request, `its Sec-Fetch-Site is ${site.slice(0, 32)}`);
  const origin = request.headers.origin;
  if (origin === undefined) return undefined;
  const own = [...ownOrigins(), `${request.protocol}://${request.host}`].map((o) => o.toLowerCase());
  return own.includes(origin.toLowerCase()) ? undefined : refusal(request, `its Origin ${origin.slice(0, 100)} is not this server's`);
}

function refusal(request: FastifyRequest, why: string): StratusError {
  return new StratusError('CROSS_SITE_REFUSED', `refused ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}: a request from another web site (${why})`);
}

/** The origin (scheme://host[:port]) of a URL. */
export function originOf(url: string): string {
  return new URL(url).origin;
}
