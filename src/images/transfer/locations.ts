import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage, RequestOptions } from 'node:http';
import { isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';
import { StratusError } from '../../domain/errors.js';
import { parsePdiskLocation } from '../../domain/volume.js';
import { PdiskClient, responseError } from '../../client/pdisk-client.js';
import type { Credentials } from '../../client/pdisk-client.js';

/** A connection that sends nothing for this long is given up (and can be resumed). */
const IDLE_MS = 60_000;

/**
 * Where a server that fetches user-given URLs may connect. `refusal` is asked for every hop's
 * URL (a literal address is judged there) and for every address a host name resolves to, at
 * connect time, so a name that resolves elsewhere on the next lookup gains nothing. It
 * answers why not, or undefined.
 */
export interface UrlGuard {
  refusal(address: string, url: URL): string | undefined;
}

/** One place an image can be fetched from. */
export interface Source {
  location: string;
  /** Starts a GET of the raw (possibly compressed) bytes, from `start` with If-Range `validator`. */
  open(start: number, validator?: string): Promise<IncomingMessage>;
  /** Says why a non-2xx answer failed, reading (and consuming) its body. */
  failure(res: IncomingMessage): Promise<string>;
}

/**
 * The Source for a location: `pdisk:host:port:uuid` and pdisk URLs go through the disk
 * service API with the user's account, or anonymously when `credentialsFor` gives none (a
 * PUBLIC volume needs no account); other http(s) URLs get a plain GET. `credentialsFor` is
 * only called for pdisk locations.
 */
export function sourceFor(location: string, pdiskEndpointFor: (endpoint: string) => string, credentialsFor: (endpoint: string) => Promise<Credentials | undefined>,
  guard?: UrlGuard): Source | string {
  const pdisk = parsePdiskLocation(location);
  if (pdisk) {
    const endpoint = pdiskEndpointFor(pdisk.endpoint);
    return {
      location,
      open: async (start, validator) => idle(await new PdiskClient(endpoint, await credentialsFor(endpoint)).download(pdisk.uuid, start, validator)),
      failure: async (res) => {
        const e = await responseError(res, endpoint);
        return e.code === 'AUTH_REQUIRED' || e.code === 'VOLUME_NOT_FOUND' ? `${e.message} (${e.hint})` : e.message;
      },
    };
  }
  if (!/^https?:\/\//i.test(location)) return `unsupported location (only http(s) URLs and pdisk: locations can be fetched)`;
  return {
    location,
    open: (start, validator) => httpGet(location, {
      ...(start > 0 ? { range: `bytes=${start}-` } : {}),
      ...(start > 0 && validator ? { 'if-range': validator } : {}),
    }, { ...(guard ? { guard } : {}) }),
    failure: async (res) => {
      res.resume();
      return `HTTP ${res.statusCode ?? '?'} ${res.statusMessage ?? ''}`.trim();
    },
  };
}

/**
 * A GET (or HEAD) that follows up to `redirects` redirects, as StratusLab's urllib did. Every
 * hop must be http(s), and passes the guard when there is one. The answer's `url` is the
 * last hop's.
 */
export function httpGet(url: string, headers: Record<string, string>, o: { redirects?: number; guard?: UrlGuard; method?: 'GET' | 'HEAD' } = {}): Promise<IncomingMessage & { url: string }> {
  const u = new URL(url);
  const redirects = o.redirects ?? 5;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return Promise.reject(new StratusError('URL_REFUSED', `${u.href}: only http and https URLs are fetched, not ${u.protocol}`));
  }
  const literal = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const refused = o.guard && isIP(literal) ? o.guard.refusal(literal, u) : undefined;
  if (refused) return Promise.reject(new StratusError('URL_REFUSED', `${u.href}: ${refused}`));
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const options: RequestOptions = { method: o.method ?? 'GET', headers: { 'user-agent': 'stratus-download-image', ...headers }, ...(o.guard ? { lookup: guardedLookup(o.guard, u) } : {}) };
    const req = send(u, options, (res) => {
      const to = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(res.statusCode ?? 0) && to && redirects > 0) {
        res.resume();
        let next: string;
        try {
          next = new URL(to, u).href;
        } catch {
          reject(new StratusError('DOWNLOAD_FAILED', `${u.href} redirects to ${JSON.stringify(to)}, which is no URL`));
          return;
        }
        resolve(httpGet(next, headers, { ...o, redirects: redirects - 1 }));
        return;
      }
      resolve(Object.assign(res, { url: u.href }));
    });
    req.setTimeout(IDLE_MS, () => req.destroy(new Error(`no data for ${IDLE_MS / 1000} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => reject(e instanceof StratusError ? e : new StratusError('MARKETPLACE_UNREACHABLE', `cannot reach ${u.host}: ${e.code ?? e.message}`)));
    req.end();
  });
}

/** net's lookup, refusing a host whose name resolves to any address the guard refuses. */
export function guardedLookup(guard: UrlGuard, u: URL): NonNullable<RequestOptions['lookup']> {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const why = guard.refusal(a.address, u);
        if (why) return callback(new StratusError('URL_REFUSED', `${u.href}: ${hostname} is ${a.address}, ${why}`) as unknown as NodeJS.ErrnoException, '', 0);
      }
      if (options.all) return (callback as unknown as (e: null, all: typeof addresses) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

function idle(res: IncomingMessage): IncomingMessage {
  res.setTimeout(IDLE_MS, () => res.destroy(new Error(`no data for ${IDLE_MS / 1000} s`)));
  return res;
}
