import { StratusError } from '../domain/errors.js';
import type { EntryDetail, EntryListing, EndorserSummary } from '../domain/wire.js';

/** Query parameters the listing accepts (see docs/api.md). */
export type ListParams = Record<string, string | number | undefined>;

/**
 * Typed HTTP client for the Marketplace REST API, used by the CLI and by tests. It never
 * hard-codes a server: the endpoint is what the user configured.
 */
export class MarketplaceClient {
  readonly endpoint: string;

  constructor(endpoint: string) {
    this.endpoint = endpoint.replace(/\/+$/, '');
  }

  /** POSTs signed XML; returns the entry URL the server created (or already had). */
  async upload(xml: Buffer | string): Promise<{ url: string; status: number }> {
    const res = await this.request('POST', '/metadata', {
      body: typeof xml === 'string' ? xml : new Blob([new Uint8Array(xml)]),
      headers: { 'Content-Type': 'application/xml', Accept: 'application/xml' },
    });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) {
      throw new StratusError('MARKETPLACE_ERROR', `Failed to upload: ${res.status} ${res.statusText}: ${await errorText(res)}`);
    }
    return { url: res.headers.get('location') ?? '', status: res.status };
  }

  /** A page of the listing as JSON. */
  async list(params: ListParams = {}, pathArgs: string[] = []): Promise<EntryListing> {
    const res = await this.request('GET', this.metadataPath(pathArgs, { ...params, media: 'json' }), { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new StratusError('MARKETPLACE_ERROR', `listing failed: ${res.status} ${res.statusText}: ${await errorText(res)}`);
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
    if (!res.ok) throw new StratusError('MARKETPLACE_ERROR', `listing failed: ${res.status} ${res.statusText}: ${await errorText(res)}`);
    return res.text();
  }

  /** One entry by full path, as signed XML. */
  async entryXml(identifier: string, email: string, created: string): Promise<string> {
    const res = await this.request('GET', this.metadataPath([identifier, email, created], { media: 'xml' }), { headers: { Accept: 'application/xml' } });
    if (res.status === 404) throw new StratusError('ENTRY_NOT_FOUND', `metadata entry not found: ${identifier}/${email}/${created}`);
    if (!res.ok) throw new StratusError('MARKETPLACE_ERROR', `fetch failed: ${res.status} ${res.statusText}: ${await errorText(res)}`);
    return res.text();
  }

  /** One entry by full path, with every field and the signature verdict. */
  async entryDetail(identifier: string, email: string, created: string): Promise<EntryDetail> {
    const res = await this.request('GET', this.metadataPath([identifier, email, created], { media: 'json' }), { headers: { Accept: 'application/json' } });
    if (res.status === 404) throw new StratusError('ENTRY_NOT_FOUND', `metadata entry not found: ${identifier}/${email}/${created}`);
    if (!res.ok) throw new StratusError('MARKETPLACE_ERROR', `fetch failed: ${res.status} ${res.statusText}: ${await errorText(res)}`);
    return (await res.json()) as EntryDetail;
  }

  async endorsers(): Promise<EndorserSummary[]> {
    const res = await this.request('GET', '/endorsers?media=json', { headers: { Accept: 'application/json' } });
    if (!res.ok) throw new StratusError('MARKETPLACE_ERROR', `endorsers failed: ${res.status} ${res.statusText}`);
    return ((await res.json()) as { endorsers: EndorserSummary[] }).endorsers;
  }

  /** Fetches any URL (an entry URL given by a user), with an Accept header. */
  async fetchUrl(url: string, accept: string): Promise<Response> {
    return this.request('GET', url, { headers: { Accept: accept } });
  }

  private metadataPath(args: string[], params: ListParams): string {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') qs.set(k, String(v));
    return `/metadata${args.map((a) => '/' + encodeURIComponent(a)).join('')}?${qs.toString()}`;
  }

  private async request(method: string, pathOrUrl: string, init: { body?: string | Blob; headers?: Record<string, string> }): Promise<Response> {
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : this.endpoint + pathOrUrl;
    try {
      return await fetch(url, { method, ...init, redirect: 'follow' });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new StratusError('MARKETPLACE_UNREACHABLE', `cannot reach the Marketplace at ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
  }
}

/** The error text of a failed response: the <error> element, the JSON message, or the body. */
async function errorText(res: Response): Promise<string> {
  const body = await res.text();
  const xml = /<error>([\s\S]*?)<\/error>/.exec(body);
  if (xml) return (xml[1] ?? '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    const msg = json[String(res.status)];
    if (typeof msg === 'string') return msg;
  } catch {
    // not JSON
  }
  return body.split('\n')[0]?.trim() ?? '';
}
