import type { Marketplace } from '../marketplace/marketplace.js';

/** What the HTTP layer needs from the Marketplace service (its public methods, nothing else). */
export type MarketplaceApi = Pick<Marketplace, 'publish' | 'get' | 'byTag' | 'list' | 'endorsers' | 'endorserEntries' | 'tags'>;

/** Every service the API serves; main/ wires the concrete ones. */
export interface Services {
  marketplace: MarketplaceApi;
}
