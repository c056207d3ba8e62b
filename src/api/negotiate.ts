import type { FastifyRequest } from 'fastify';

export type Media = 'xml' | 'json' | 'html' | 'text';

/**
 * Picks the representation as StratusLab's Restlet server did: `?media=xml|json|html`
 * wins, then the Accept header by quality, then `fallback` (XML for data resources).
 */
export function negotiate(request: FastifyRequest, fallback: Media = 'xml'): Media {
  const media = (request.query as Record<string, unknown> | undefined)?.media;
  if (media === 'xml' || media === 'json' || media === 'html' || media === 'text') return media;
  const accept = request.headers.accept;
  if (!accept) return fallback;
  const ranked = accept.split(',').map((part, i) => {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const q = Number(params.map((p) => p.trim()).find((p) => p.startsWith('q='))?.slice(2) ?? '1');
    return { type: type.trim(), q: Number.isFinite(q) ? q : 0, i };
  }).filter((r) => r.q > 0).sort((a, b) => b.q - a.q || a.i - b.i);
  for (const { type } of ranked) {
    if (type === 'text/html' || type === 'application/xhtml+xml') return 'html';
    if (type === 'application/json' || type === 'application/sparql-results+json') return 'json';
    if (type === 'application/xml' || type === 'text/xml' || type === 'application/rdf+xml' || type === 'application/sparql-results+xml') return 'xml';
    if (type === 'text/plain') return 'text';
    if (type === '*/*' || type === 'application/*') return fallback;
  }
  return fallback;
}

/** The request's media type, without parameters, in lower case ('' when there is none). */
export function contentType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The server's public URL ([server] public_url), for Location headers and links. */
    publicUrl?: () => string;
  }
}

/**
 * The server's base URL for Location headers: the configured public URL, never the request's
 * Host header, which whoever sends the request writes. Without one (an app built for a test),
 * the address the connection arrived at.
 */
export function baseUrl(request: FastifyRequest): string {
  const configured = request.server.publicUrl?.();
  if (configured) return configured.replace(/\/+$/, '');
  const { localAddress, localPort } = request.raw.socket;
  if (!localAddress || !localPort) return `${request.protocol}://localhost`;
  return `${request.protocol}://${localAddress.includes(':') ? `[${localAddress}]` : localAddress}:${localPort}`;
}
