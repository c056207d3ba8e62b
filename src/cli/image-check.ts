import { StratusError } from '../domain/errors.js';
import { MarketplaceClient } from '../client/marketplace-client.js';
import { splitEntries } from './marketplace.js';
import { readEntry } from '../metadata/entry/entry.js';

/**
 * StratusLab's image availability check (§11.1), before anything is asked of the cloud: the
 * Marketplace must list a latest, valid, not deprecated entry for the ID, with a location.
 * The failures read as StratusLab's did.
 */
export async function checkImageAvailability(marketplace: string, id: string): Promise<void> {
  const client = new MarketplaceClient(marketplace);
  const url = `${client.endpoint}/metadata/${id}`;
  let xml: string | undefined;
  try {
    xml = await client.listXml({}, [id]);
  } catch (e) {
    throw new StratusError('NO_MATCH', `Failed to get manifest for resource uri: ${url}. ${(e as Error).message}`);
  }
  const docs = xml === undefined ? [] : splitEntries(xml);
  if (docs.length === 0) {
    throw new StratusError('NO_MATCH', `Failed to get manifest for resource uri: ${url}. No valid, non-deprecated entry for this image`, {
      hint: 'Expired and deprecated images cannot be run; find a current one with stratus-search-image.',
    });
  }
  if (!docs.some((d) => (readEntry(d).locations ?? []).length > 0)) {
    throw new StratusError('NO_MATCH', `Image location(s) are not set in manifest for the image with ID ${id}`);
  }
}
