import type { FastifyInstance } from 'fastify';
import type { MarketplaceApi } from './services.js';
import { negotiate } from './negotiate.js';
import { endorsersPage, searchPage } from '../web/pages.js';
import { marketplaceRoutes } from '../domain/routes/index.js';
import { serve } from './serve.js';

/** /endorsers: who endorses what (reference §6.1). XML is SPARQL-results XML, as StratusLab served it. */
export function endorserRoutes(app: FastifyInstance, mp: MarketplaceApi): void {
  serve(app, marketplaceRoutes.endorsers, async (request, reply) => {
    const endorsers = await mp.endorsers();
    const media = negotiate(request, 'xml');
    if (media === 'html') return reply.type('text/html; charset=utf-8').send(endorsersPage(endorsers));
    if (media === 'json') return reply.send({ endorsers });
    return reply.type('application/sparql-results+xml; charset=utf-8').send(sparqlXml(['email', 'subject', 'issuer'], endorsers));
  });

  serve(app, marketplaceRoutes.endorserEntries, async (request, reply) => {
    const days = Number(request.query.range ?? 30);
    const entries = await mp.endorserEntries(request.params.email, Number.isFinite(days) && days > 0 ? days : 30);
    const media = negotiate(request, 'xml');
    if (media === 'html') {
      return reply.type('text/html; charset=utf-8').send(searchPage({ endorser: request.params.email, status: 'all', offset: 0, limit: entries.length || 1 },
        { sEcho: 0, iTotalRecords: entries.length, iTotalDisplayRecords: entries.length, rMsg: '', aaData: [], entries, offset: 0, limit: entries.length, total: entries.length, totalExact: true }));
    }
    if (media === 'json') return reply.send({ email: request.params.email, entries });
    const rows = entries.map((e) => ({ identifier: e.identifier, created: e.created, description: e.description, location: e.location, deprecated: e.deprecated, email: e.email }));
    return reply.type('application/sparql-results+xml; charset=utf-8').send(sparqlXml(['identifier', 'created', 'description', 'location', 'deprecated', 'email'], rows));
  });

  serve(app, marketplaceRoutes.endorserTags, async (request, reply) => {
    const tags = await mp.tags(request.params.email);
    const media = negotiate(request, 'xml');
    if (media === 'json') return reply.send({ email: request.params.email, tags });
    if (media === 'html') return reply.type('text/html; charset=utf-8').send(`<!DOCTYPE html><ul>${tags.map((t) => `<li>${escapeXml(t)}</li>`).join('')}</ul>`);
    return reply.type('application/sparql-results+xml; charset=utf-8').send(sparqlXml(['tag'], tags.map((tag) => ({ tag }))));
  });
}

function sparqlXml(vars: string[], objects: readonly object[]): string {
  const rows = objects as ReadonlyArray<Record<string, unknown>>;
  const head = vars.map((v) => `<variable name="${v}"/>`).join('');
  const results = rows.map((r) => '<result>' + vars.filter((v) => r[v] !== null && r[v] !== undefined)
    .map((v) => `<binding name="${v}"><literal>${escapeXml(String(r[v]))}</literal></binding>`).join('') + '</result>').join('');
  return `<?xml version="1.0" encoding="UTF-8"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>${head}</head><results>${results}</results></sparql>`;
}

function escapeXml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
}
