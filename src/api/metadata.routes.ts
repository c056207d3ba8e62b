import { parse as parseQuery } from 'node:querystring';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StratusError } from '../domain/errors.js';
import type { EntryListing } from '../domain/wire.js';
import type { MarketplaceApi } from './services.js';
import type { FoundEntry } from '../marketplace/marketplace.js';
import type { ListingRequest } from './listing.js';
import { listingFromParams, classifyPathArgs } from './listing.js';
import { baseUrl, contentType, negotiate } from './negotiate.js';
import { createdPage, entryPage, searchPage, uploadPage } from '../web/pages.js';

const XML_TYPES = ['application/xml', 'application/rdf+xml', 'text/xml'];

/**
 * /metadata: upload (POST) and listings (GET), per reference §6.1-6.3. Uploads need no
 * account: the signature is the credential.
 */
export function metadataRoutes(app: FastifyInstance, mp: MarketplaceApi, maxBytes: number): void {
  app.addContentTypeParser(XML_TYPES, { parseAs: 'buffer', bodyLimit: maxBytes }, (_req, body, done) => done(null, body));
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, parseQuery(body as string)));

  app.get('/', async (request, reply) => listing(request, reply, mp, [], 'html'));
  app.get('/upload', async (_request, reply) => reply.type('text/html; charset=utf-8').send(uploadPage()));

  app.post('/metadata', async (request, reply) => {
    if (request.isMultipart()) return upload(request, reply, mp, await firstFile(request, maxBytes));
    const type = contentType(request);
    if (type === 'application/x-www-form-urlencoded') {
      return listing(request, reply, mp, [], 'json', request.body as Record<string, string | string[]>);
    }
    if (!Buffer.isBuffer(request.body)) {
      throw new StratusError('PAYLOAD_UNSUPPORTED', `POST /metadata takes signed XML (application/xml), not ${type || 'an empty body'}`);
    }
    return upload(request, reply, mp, request.body);
  });

  app.get('/metadata', async (request, reply) => listing(request, reply, mp, []));
  app.get<{ Params: { a: string } }>('/metadata/:a', async (request, reply) => listing(request, reply, mp, [request.params.a]));
  app.get<{ Params: { a: string; b: string } }>('/metadata/:a/:b', async (request, reply) => listing(request, reply, mp, [request.params.a, request.params.b]));
  app.get<{ Params: { a: string; b: string; c: string } }>('/metadata/:a/:b/:c', async (request, reply) => {
    const args = classifyPathArgs([request.params.a, request.params.b, request.params.c]);
    if (!args.identifier || !args.email || !args.created) return listing(request, reply, mp, [request.params.a, request.params.b, request.params.c]);
    return single(request, reply, mp, await mp.get({ identifier: args.identifier, email: args.email, created: args.created }));
  });
  app.get<{ Params: { email: string; tag: string } }>('/tag/:email/:tag', async (request, reply) =>
    single(request, reply, mp, await mp.byTag(request.params.email, request.params.tag)));
}

async function firstFile(request: FastifyRequest, maxBytes: number): Promise<Buffer> {
  // StratusLab took the first part that has a file name (the form field is "Metadata File").
  for await (const part of request.parts({ limits: { fileSize: maxBytes, files: 1 } })) {
    if (part.type === 'file') return part.toBuffer();
  }
  throw new StratusError('USAGE', 'the form has no file part', { hint: 'Choose a signed metadata file in the upload form.' });
}

async function upload(request: FastifyRequest, reply: FastifyReply, mp: MarketplaceApi, body: Buffer): Promise<FastifyReply> {
  const result = await mp.publish(body);
  const path = `/metadata/${result.path}`;
  reply.code(result.status === 'created' ? 201 : 200).header('Location', baseUrl(request) + path);
  const media = negotiate(request, 'text');
  if (media === 'html') return reply.type('text/html; charset=utf-8').send(createdPage(path));
  if (media === 'json') return reply.send({ status: result.status, path, url: baseUrl(request) + path });
  return reply.type('text/plain; charset=utf-8').send(result.status === 'created' ? 'metadata entry created\n' : 'metadata entry already stored\n');
}

async function single(request: FastifyRequest, reply: FastifyReply, mp: MarketplaceApi, found: FoundEntry): Promise<FastifyReply> {
  const media = negotiate(request, 'xml');
  if (media === 'html') return reply.type('text/html; charset=utf-8').send(entryPage(found.detail(), mp.fields));
  const detail = found.detail();
  if (media === 'json') {
    return reply.type('application/json; charset=utf-8').header('Content-Disposition', `attachment; filename=${detail.identifier}.json`).send(detail);
  }
  return reply.type('application/rdf+xml; charset=utf-8').header('Content-Disposition', `attachment; filename=${detail.identifier}.xml`).send(found.xml);
}

async function listing(request: FastifyRequest, reply: FastifyReply, mp: MarketplaceApi, pathArgs: string[], fallback: 'xml' | 'html' | 'json' = 'xml', params?: Record<string, string | string[]>): Promise<FastifyReply> {
  const media = params ? 'json' : negotiate(request, fallback);
  const req: ListingRequest = listingFromParams(params ?? (request.query as Record<string, string | string[]>), pathArgs, media);
  const result = await mp.list(req.query, { withXml: media === 'xml' });
  const out: EntryListing = {
    sEcho: req.echo,
    iTotalRecords: result.total,
    iTotalDisplayRecords: result.total,
    rMsg: '',
    aaData: result.rows,
    entries: result.entries,
    offset: req.query.offset ?? 0,
    limit: req.query.limit ?? 0,
    total: result.total,
    totalExact: result.totalExact,
  };
  if (media === 'html') {
    return reply.type('text/html; charset=utf-8').send(searchPage({ ...req.filters, offset: out.offset, limit: out.limit }, out));
  }
  if (media === 'json') return reply.type('application/json; charset=utf-8').send(out);
  if (result.entries.length === 0) throw new StratusError('NO_MATCH', 'no metadata matching query found');
  const docs = result.xml.map((x) => x.replace(/^\s*<\?xml[^?]*\?>/, ''));
  return reply.type('application/xml; charset=utf-8').send(`<?xml version="1.0" encoding="UTF-8" standalone="no"?><metadata>${docs.join('')}</metadata>`);
}
