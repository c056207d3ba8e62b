import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { StratusError } from '../../domain/errors.js';
import { parsePdiskLocation } from '../../domain/volume.js';
import { PdiskClient, responseError } from '../../client/pdisk-client.js';
import type { Credentials } from '../../client/pdisk-client.js';

/** A connection that sends nothing for this long is given up (and can be resumed). */
const IDLE_MS = 60_000;

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
export function sourceFor(location: string, pdiskEndpointFor: (endpoint: string) => string, credentialsFor: (endpoint: string) => Promise<Credentials | undefined>): Source | string {
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
    }),
    failure: async (res) => {
      res.resume();
      return `HTTP ${res.statusCode ?? '?'} ${res.statusMessage ?? ''}`.trim();
    },
  };
}

/** A GET that follows up to `redirects` redirects, as StratusLab's urllib did. */
export function httpGet(url: string, headers: Record<string, string>, redirects = 5): Promise<IncomingMessage> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(u, { headers: { 'user-agent': 'stratus-download-image', ...headers } }, (res) => {
      const to = res.headers.location;
      if ([301, 302, 303, 307, 308].includes(res.statusCode ?? 0) && to && redirects > 0) {
        res.resume();
        resolve(httpGet(new URL(to, u).href, headers, redirects - 1));
        return;
      }
      resolve(res);
    });
    req.setTimeout(IDLE_MS, () => req.destroy(new Error(`no data for ${IDLE_MS / 1000} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new StratusError('MARKETPLACE_UNREACHABLE', `cannot reach ${u.host}: ${e.code ?? e.message}`)));
    req.end();
  });
}

function idle(res: IncomingMessage): IncomingMessage {
  res.setTimeout(IDLE_MS, () => res.destroy(new Error(`no data for ${IDLE_MS / 1000} s`)));
  return res;
}
