import { StratusError, errorCatalogue } from '../domain/errors.js';
import type { ErrorCode } from '../domain/errors.js';
import { errorBody } from './error-body.js';
import type { EntryDetail, EntryListing, EndorserSummary } from '../domain/wire.js';
import { marketplaceRoutes, pathOf } from '../domain/routes/index.js';

/**
 * An error answer of the Marketplace: the server's code (X-Stratus-Error, MARKETPLACE_ERROR
 * when it sent none), its message prefixed with what failed, and its hint when it gave one.
 * The CLI prints these StratusLab's way ("Error: …", status 255) whatever their code.
 */
export class MarketplaceAnswerError extends StratusError {}

/** Query parameters the listing accepts (see docs/api.md). */
export type ListParams = Record<string, string | number | undefined>;

/**
 * Typed HTTP client for the Marketplace REST API, used by the CLI and by tests. It never
 * hard-codes a server: the endpoint is what the user configured.
 */
export class MarketplaceClient {
  readonly endpoint: string;

  /** With `credentials`, the account's drafts are listed too, and its uploads end its drafts of the identifier. */
  constructor(endpoint: string, private readonly credentials?: { username: string; password: string }) {
    this.endpoint = endpoint.replace(/\/+$/, '');
  }

  /** POSTs signed XML; returns the entry URL the server created (or already had). */
  async upload(xml: Buffer | string): Promise<{ url: string; status: number }> {
    const res = await this.request('POST', pathOf(marketplaceRoutes.upload, {}), {
      body: typeof xml === 'string' ? xml : new Blob([new Uint8Array(xml)]),
      headers: { 'Content-Type': 'application/xml', Accept: 'application/xml' },
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) {
      throw await answerError(res, 'Failed to upload');
    }
    return { url: res.headers.get('location') ?? '', status: res.status };
  }

  /** A page of the listing as JSON. */
  async list(params: ListParams = {}, pathArgs: string[] = []): Promise<EntryListing> {
    const res = await this.request('GET', this.metadataPath(pathArgs, { ...params, media: 'json' }), { headers: { Accept: 'application/json' } });
    if (!res.ok) throw await answerError(res, 'listing failed');
    return (await res.json()) as EntryListing;
  }

  /** Every page of a listing. */
  async listAll(params: ListParams = {}, pathArgs: string[] = []): Promise<EntryListing['entries']> {
    const out: EntryListing['entries'] = [];
    for (let offset = 0; ; ) {
      const page = await this.list({ ...params, offset, limit: 1000 }, pathArgs);
      out.push(...page.entries);
      offset += page.entries.length;
      if (page.entries.length === 0 || (page.totalExact !== false && offset >= page.total)) return out;
    }
  }

  /** The XML listing (a <metadata> wrapper around signed entries), or undefined when none match. */
  async listXml(params: ListParams = {}, pathArgs: string[] = []): Promise<string | undefined> {
    const res = await this.request('GET', this.metadataPath(pathArgs, { ...params, media: 'xml' }), { headers: { Accept: 'application/xml' } });
    if (res.status === 404) return undefined;
    if (!res.ok) throw await answerError(res, 'listing failed');
    return res.text();
  }

  /** One entry by full path, as signed XML. */
  async entryXml(identifier: string, email: string, created: string): Promise<string> {
    const res = await this.request('GET', this.metadataPath([identifier, email, created], { media: 'xml' }), { headers: { Accept: 'application/xml' } });
    if (res.status === 404) throw new StratusError('ENTRY_NOT_FOUND', `metadata entry not found: ${identifier}/${email}/${created}`);
    if (!res.ok) throw await answerError(res, 'fetch failed');
    return res.text();
  }

  /** One entry by full path, with every field and the signature verdict. */
  async entryDetail(identifier: string, email: string, created: string): Promise<EntryDetail> {
    const res = await this.request('GET', this.metadataPath([identifier, email, created], { media: 'json' }), { headers: { Accept: 'application/json' } });
    if (res.status === 404) throw new StratusError('ENTRY_NOT_FOUND', `metadata entry not found: ${identifier}/${email}/${created}`);
    if (!res.ok) throw await answerError(res, 'fetch failed');
    return (await res.json()) as EntryDetail;
  }

  async endorsers(): Promise<EndorserSummary[]> {
    const res = await this.request('GET', pathOf(marketplaceRoutes.endorsers, {}, { media: 'json' }), { headers: { Accept: 'application/json' } });
    if (!res.ok) throw await answerError(res, 'endorsers failed');
    return ((await res.json()) as { endorsers: EndorserSummary[] }).endorsers;
  }

  /** Fetches any URL (an entry URL given by a user), with an Accept header. */
  async fetchUrl(url: string, accept: string): Promise<Response> {
    return this.request('GET', url, { headers: { Accept: accept } });
  }

  /** The listing (or, with identifier, e-mail and date, the entry) for up to three path arguments. */
  private metadataPath(args: string[], params: ListParams): string {
    const [a = '', b = '', c = ''] = args;
    switch (args.length) {
      case 0: return pathOf(marketplaceRoutes.list, {}, params);
      case 1: return pathOf(marketplaceRoutes.listBy, { arg1: a }, params);
      case 2: return pathOf(marketplaceRoutes.listBy2, { arg1: a, arg2: b }, params);
      default: return pathOf(marketplaceRoutes.entry, { identifier: a, email: b, created: c }, params);
    }
  }

  private async request(method: string, pathOrUrl: string, init: { body?: string | Blob; headers?: Record<string, string> }): Promise<Response> {
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : this.endpoint + pathOrUrl;
    try {
      const auth: Record<string, string> = this.credentials && url.startsWith(this.endpoint + '/')
        ? { Authorization: 'Basic ' + Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64') }
        : {};
      return await fetch(url, { method, ...init, headers: { ...init.headers, ...auth }, redirect: 'follow' });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new StratusError('MARKETPLACE_UNREACHABLE', `cannot reach the Marketplace at ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
  }
}

/** A failed response as a MarketplaceAnswerError, keeping the server's code (as PdiskClient does). */
export async function answerError(res: Response, what: string): Promise<MarketplaceAnswerError> {
  const header = res.headers.get('x-stratus-error');
  const code = (header !== null && Object.hasOwn(errorCatalogue, header) ? header : 'MARKETPLACE_ERROR') as ErrorCode;
  const { message, hint } = errorBody(await res.text(), res.status);
  return new MarketplaceAnswerError(code, `${what}: ${res.status} ${res.statusText}: ${message}`, hint ? { hint } : {});
}
