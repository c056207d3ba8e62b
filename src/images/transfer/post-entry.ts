import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { StratusError } from '../../domain/errors.js';
import { guardedLookup } from './locations.js';
import type { UrlGuard } from './locations.js';

const TIMEOUT_MS = 60_000;
/** Enough of an answer to quote its error; the rest is not read. */
const MAX_ANSWER = 4096;

/**
 * POSTs a signed entry to a Marketplace's `/metadata` on behalf of a user (the server's upload
 * of a saved image's draft to --marketplace-endpoint-newimage). The URL is the user's, so every
 * address it reaches passes `guard`, and no redirect is followed (a 30x could point anywhere).
 * Resolves with the HTTP status of an accepted upload (200, 201, 202).
 */
export function postEntry(url: string, xml: string, guard: UrlGuard): Promise<number> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.reject(new StratusError('USAGE', `${url} is not a URL`));
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return Promise.reject(new StratusError('URL_REFUSED', `${u.href}: drafts go to http or https Marketplaces only, not ${u.protocol}`));
  }
  const literal = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const refused = isIP(literal) ? guard.refusal(literal, u) : undefined;
  if (refused) return Promise.reject(new StratusError('URL_REFUSED', `${u.href}: ${refused}`));
  const body = Buffer.from(xml, 'utf8');
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(u, {
      method: 'POST', lookup: guardedLookup(guard, u),
      headers: { 'content-type': 'application/xml', 'content-length': body.length, accept: 'application/xml', 'user-agent': 'stratus-serve' },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < MAX_ANSWER) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(status);
        const text = Buffer.concat(chunks).toString('utf8').slice(0, MAX_ANSWER);
        const error = /<error>([\s\S]*?)<\/error>/.exec(text)?.[1] ?? text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
        reject(new StratusError('MARKETPLACE_ERROR', `${u.href} refused the draft: HTTP ${status}${error ? `: ${error.slice(0, 300)}` : ''}`));
      });
      res.on('error', reject);
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer in ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (e: NodeJS.ErrnoException) => reject(e instanceof StratusError ? e : new StratusError('MARKETPLACE_UNREACHABLE', `cannot reach ${u.host}: ${e.code ?? e.message}`)));
    req.end(body);
  });
}
