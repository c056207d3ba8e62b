import { parse as parseQuery } from 'node:querystring';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StratusError } from '../domain/errors.js';
import type { EntryListing } from '../domain/wire.js';
import type { AccountsApi, MarketplaceApi } from './services.js';
import type { FoundEntry, PublishResult, UploadResult } from '../marketplace/marketplace.js';
import type { ListingRequest } from './listing.js';
import { listingFromParams, classifyPathArgs } from './listing.js';
import { baseUrl, contentType, negotiate } from './negotiate.js';
import { createdPage, entryPage, searchPage, uploadPage } from '../web/pages.js';
import { confirmationSentPage } from '../web/confirmation-pages.js';
import { readBody } from './body.js';
import type { BodyBudget } from './body.js';
import { formParts, malformed } from './multipart.js';
import { bodyKind } from './body-policy.js';
import { caller, optionalCaller } from './auth.js';
import type { Principal } from '../accounts/accounts.js';
import { SlidingWindow, addressKey } from '../platform/rate-limit.js';
import { marketplaceRoutes } from '../domain/routes/index.js';
import { serve } from './serve.js';

const XML_TYPES = ['application/xml', 'application/rdf+xml', 'text/xml'];
/** A DataTables query is a few hundred bytes. */
const FORM_LIMIT = 64 * 1024;

export interface MetadataRouteOptions {
  /** The largest entry accepted, in bytes. */
  maxBytes: number;
  /** Memory shared by all metadata bodies being received. */
  budget: BodyBudget;
  /** Checks the credentials of uploads that carry them; without it uploads are not limited. */
  accounts?: AccountsApi;
  /**
   * Uploads without an account allowed per client address and hour: 0 means uploads need an
   * account, Infinity leaves anonymous uploads unlimited (StratusLab's behaviour).
   */
  anonymousUploadsPerHour: number;
}

/**
 * /metadata: upload (POST) and listings (GET), per reference §6.1-6.3. Uploads need no
 * account by default, as in StratusLab (the signature is the credential), but anonymous ones
 * are limited per client address; uploads with valid credentials are not.
 */
export function metadataRoutes(app: FastifyInstance, mp: MarketplaceApi, options: MetadataRouteOptions): void {
  const { maxBytes, budget } = options;
  app.addContentTypeParser(XML_TYPES, (request, payload, done) => {
    const length = request.headers['content-length'];
    readBody(payload, maxBytes, budget, length === undefined ? undefined : Number(length)).then((body) => done(null, body), (e: Error) => done(e));
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_LIMIT }, (_req, body, done) => done(null, parseQuery(body as string)));

  const routes = marketplaceRoutes;
  // Drafts are seen by their owner and the admin only, so listings and entries know who asks.
  const viewer = (request: FastifyRequest): Promise<Principal | undefined> => (options.accounts ? optionalCaller(request, options.accounts) : Promise.resolve(undefined));
  const listing = async (request: FastifyRequest, reply: FastifyReply, pathArgs: string[], fallback?: 'xml' | 'html' | 'json', params?: Record<string, string | string[]>): Promise<FastifyReply> =>
    listingOf(request, reply, mp, await viewer(request), pathArgs, fallback, params);
  serve(app, routes.searchPage, async (request, reply) => listing(request, reply, [], 'html'));
  serve(app, routes.uploadPage, async (_request, reply) => reply.type('text/html; charset=utf-8').send(uploadPage()));

  serve(app, routes.upload, async (request, reply) => {
    if (request.isMultipart()) return upload(request, reply, mp, await firstFile(request, maxBytes, budget), options.accounts);
    const type = contentType(request);
    if (type === 'application/x-www-form-urlencoded') {
      return listing(request, reply, [], 'json', request.body as Record<string, string | string[]>);
    }
    if (!Buffer.isBuffer(request.body)) {
      throw new StratusError('PAYLOAD_UNSUPPORTED', `POST /metadata takes signed XML (application/xml), not ${type || 'an empty body'}`);
    }
    return upload(request, reply, mp, request.body, options.accounts);
  }, { onRequest: uploadGate(options) });

  serve(app, routes.drafts, async (request, reply) => {
    const accounts = options.accounts;
    if (!accounts) throw new StratusError('FORBIDDEN', 'this server has no accounts, so no drafts');
    const admin = await caller(request, accounts);
    if (!admin.admin) throw new StratusError('FORBIDDEN', 'only the admin makes drafts through the API', { hint: 'Drafts come from saved instances; upload your own entries with POST /metadata.' });
    if (!Buffer.isBuffer(request.body)) {
      throw new StratusError('PAYLOAD_UNSUPPORTED', `POST /metadata/drafts takes metadata XML (application/xml), not ${contentType(request) || 'an empty body'}`);
    }
    const owner = await accounts.account(request.query.owner ?? '');
    return created(request, reply, await mp.publishServiceDraft({ id: owner.id, username: owner.username }, request.body));
  });

  serve(app, routes.list, async (request, reply) => listing(request, reply, []));
  serve(app, routes.listBy, async (request, reply) => listing(request, reply, [request.params.arg1]));
  serve(app, routes.listBy2, async (request, reply) => listing(request, reply, [request.params.arg1, request.params.arg2]));
  serve(app, routes.entry, async (request, reply) => {
    const given = [request.params.identifier, request.params.email, request.params.created];
    const args = classifyPathArgs(given);
    if (!args.identifier || !args.email || !args.created) return listing(request, reply, given);
    return single(request, reply, mp, await mp.get({ identifier: args.identifier, email: args.email, created: args.created }, await viewer(request)));
  });
  serve(app, routes.tag, async (request, reply) => single(request, reply, mp, await mp.byTag(request.params.email, request.params.tag, await viewer(request))));
}

/**
 * Runs before an upload's body is read: credentials that are sent must be right (and the
 * account is then trusted with any number of uploads); without them, the client address must
 * be within its hourly allowance, or uploads need an account at all.
 */
function uploadGate(options: MetadataRouteOptions): (request: FastifyRequest) => Promise<void> {
  const perHour = options.anonymousUploadsPerHour;
  const window = Number.isFinite(perHour) && perHour > 0 ? new SlidingWindow(perHour, 3600_000) : undefined;
  return async (request) => {
    const kind = bodyKind(request);
    if (kind !== 'xml' && kind !== 'multipart') return; // the DataTables listing query, or a refusal to come
    const accounts = options.accounts;
    if (!accounts) return;
    if (request.headers.authorization !== undefined || perHour <= 0) {
      if (request.headers.authorization === undefined) {
        throw new StratusError('AUTH_REQUIRED', 'this Marketplace takes uploads from accounts only', {
          hint: 'Upload with a username and password (ask the operator for an account).',
        });
      }
      await caller(request, accounts);
      return;
    }
    if (!window) return;
    const address = addressKey(request.ip);
    const wait = window.waitMs(address);
    if (wait > 0) {
      const retryAfterS = Math.ceil(wait / 1000);
      throw new StratusError('RATE_LIMITED', `${perHour} uploads without an account per hour from ${address} already: try again in ${retryAfterS} s`, {
        retryAfterS,
        hint: `Wait ${retryAfterS} s, or upload with an account (username and password), which is not limited.`,
      });
    }
    window.record(address);
  };
}

async function firstFile(request: FastifyRequest, maxBytes: number, budget: BodyBudget): Promise<Buffer> {
  // StratusLab took the first part that has a file name (the form field is "Metadata File").
  for await (const part of formParts(request, { fileSize: maxBytes + 1, files: 1 })) {
    if (part.type === 'file') {
      try {
        return await readBody(part.file, maxBytes, budget);
      } catch (e) {
        throw malformed(e);
      }
    }
  }
  throw new StratusError('USAGE', 'the form has no file part', { hint: 'Choose a signed metadata file in the upload form.' });
}

async function upload(request: FastifyRequest, reply: FastifyReply, mp: MarketplaceApi, body: Buffer, accounts: AccountsApi | undefined): Promise<FastifyReply> {
  // Checked by the upload gate already (remembered for a minute), so this costs no second scrypt.
  const uploader = accounts ? await optionalCaller(request, accounts) : undefined;
  const result = await mp.publish(body, uploader, { base: baseUrl(request), client: request.ip });
  return result.status === 'pending' ? held(request, reply, result) : created(request, reply, result);
}

/** The answer to an upload held for its endorser's confirmation: 202, and nothing stored yet. */
function held(request: FastifyRequest, reply: FastifyReply, result: Extract<UploadResult, { status: 'pending' }>): FastifyReply {
  reply.code(202);
  const media = negotiate(request, 'text');
  if (media === 'html') return reply.type('text/html; charset=utf-8').send(confirmationSentPage(result.to, result.expires));
  if (media === 'json') return reply.send({ status: 'pending', path: `/metadata/${result.path}`, to: result.to, expires: result.expires });
  return reply.type('text/plain; charset=utf-8').send('confirmation email sent for new metadata entry\n');
}

/** The answer to a stored entry: 201 with Location, or 200 when the very same one was stored before. */
export function created(request: FastifyRequest, reply: FastifyReply, result: PublishResult): FastifyReply {
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

async function listingOf(request: FastifyRequest, reply: FastifyReply, mp: MarketplaceApi, viewer: Principal | undefined, pathArgs: string[], fallback: 'xml' | 'html' | 'json' = 'xml', params?: Record<string, string | string[]>): Promise<FastifyReply> {
  const media = params ? 'json' : negotiate(request, fallback);
  const req: ListingRequest = listingFromParams(params ?? (request.query as Record<string, string | string[]>), pathArgs, media);
  if (media === 'xml') return xmlListing(request, reply, mp, req, viewer);
  const result = await mp.list(req.query, viewer);
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
  return reply.type('application/json; charset=utf-8').send(out);
}

/**
 * StratusLab's XML listing: the stored signed documents in a <metadata> wrapper, streamed as
 * they are read. A page that leaves entries out says where the next one starts (Link rel=next).
 */
async function xmlListing(request: FastifyRequest, reply: FastifyReply, mp: MarketplaceApi, req: ListingRequest, viewer: Principal | undefined): Promise<FastifyReply> {
  const page = await mp.listXml(req.query, viewer);
  if (page.count === 0) throw new StratusError('NO_MATCH', 'no metadata matching query found');
  const offset = req.query.offset ?? 0;
  if (!page.totalExact || offset + page.count < page.total) {
    const next = new URL(request.url, 'http://path.only');
    next.searchParams.set('offset', String(offset + page.count));
    next.searchParams.set('limit', String(req.query.limit ?? page.count));
    reply.header('Link', `<${next.pathname}${next.search}>; rel="next"`);
  }
  async function* body(): AsyncGenerator<string> {
    yield '<?xml version="1.0" encoding="UTF-8" standalone="no"?><metadata>';
    for await (const doc of page.documents) yield doc.replace(/^\s*<\?xml[^?]*\?>/, '');
    yield '</metadata>';
  }
  return reply.type('application/xml; charset=utf-8').send(Readable.from(body(), { objectMode: false }));
}
