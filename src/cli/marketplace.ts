import type { Command } from 'commander';
import { StratusError } from '../domain/errors.js';
import { isIdentifier } from '../domain/identifier.js';
import { parseXml } from '../metadata/xml/parse.js';
import { NS, childElements } from '../metadata/xml/dom.js';
import { serializeElement } from '../metadata/xml/serialize.js';
import type { Document } from '@xmldom/xmldom';
import { answerError } from '../client/marketplace-client.js';
import type { MarketplaceClient } from '../client/marketplace-client.js';
import { MARKETPLACE_ENDPOINT } from './program.js';
import type { Context } from './program.js';
import { marketplaceEndpoint } from './user-config.js';
import { cloudUrl } from './cloud.js';
import type { CloudOptionValues } from './cloud.js';

export function marketplaceOption(program: Command): Command {
  return program.option('--marketplace-endpoint <url>', 'Marketplace URL (env STRATUSLAB_MARKETPLACE_ENDPOINT, config marketplace_endpoint)');
}

/** The Marketplace URL by CLI > env > config > default, sanitised the StratusLab way. */
export function marketplaceUrl(ctx: Context, o: { marketplaceEndpoint?: string }): string {
  return marketplaceEndpoint(ctx.setting(MARKETPLACE_ENDPOINT, o.marketplaceEndpoint) as string);
}

/**
 * The account to show the Marketplace at `marketplace`, so that its drafts are listed: only when
 * both name and password are configured (never prompted: listings and uploads need no account)
 * and that Marketplace is the account's own server (the cloud endpoint, which falls back to a
 * configured Marketplace). A password is never sent to another Marketplace.
 */
export function marketplaceCredentials(ctx: Context, marketplace: string, o: CloudOptionValues = {}): { username: string; password: string } | undefined {
  const username = ctx.setting({ key: 'username' }, o.username);
  const password = ctx.setting({ key: 'password' }, o.password);
  if (!username || !password) return undefined;
  let server: string;
  try {
    server = cloudUrl(ctx, o);
  } catch {
    return undefined;
  }
  return new URL(server).origin === new URL(marketplace).origin ? { username, password } : undefined;
}

/**
 * Resolves a Marketplace identifier or an entry URL to signed entry documents: an identifier
 * gives each endorser's latest valid entry; a URL gives what it points at. A <metadata>
 * wrapper is split into its rdf:RDF documents.
 */
export async function fetchEntries(client: MarketplaceClient, idOrUrl: string, params: Record<string, string> = {}): Promise<Document[]> {
  let xml: string | undefined;
  if (/^https?:\/\//.test(idOrUrl)) {
    const res = await client.fetchUrl(idOrUrl + (idOrUrl.includes('?') ? '&' : '?') + 'media=xml', 'application/xml');
    if (res.status === 404) xml = undefined;
    else if (!res.ok) throw await answerError(res, `cannot fetch ${idOrUrl}`);
    else xml = await res.text();
  } else {
    if (!isIdentifier(idOrUrl)) throw new StratusError('IDENTIFIER_INVALID', `invalid identifier: '${idOrUrl}'`);
    xml = await client.listXml(params, [idOrUrl]);
  }
  if (xml === undefined) {
    throw new StratusError('NO_MATCH', `no metadata entry found for ${idOrUrl}`, { hint: 'Deprecated and expired entries are hidden; check the identifier with stratus-search-image.' });
  }
  return splitEntries(xml);
}

/** The signed documents of an XML answer: one rdf:RDF, or a <metadata> list of them. */
export function splitEntries(xml: string): Document[] {
  const doc = parseXml(xml, { source: 'Marketplace answer', maxBytes: 512 * 1024 * 1024 });
  const root = doc.documentElement;
  if (root && root.namespaceURI === NS.rdf && root.localName === 'RDF') return [doc];
  return childElements(root as never).filter((e) => e.namespaceURI === NS.rdf && e.localName === 'RDF')
    .map((e) => parseXml(serializeElement(e), { source: 'Marketplace entry' }));
}
