import { StratusError } from '../domain/errors.js';
import { MarketplaceClient } from '../client/marketplace-client.js';
import { splitEntries } from './marketplace.js';
import { readEntry } from '../metadata/entry/entry.js';
import { resolveUrl } from '../images/index.js';

/**
 * StratusLab's image availability check (§11.1), before anything is asked of the cloud: the
 * Marketplace must list a latest, valid, not deprecated entry for the ID, with a location.
 * The failures read as StratusLab's did.
 */
export async function checkImageAvailability(marketplace: string, id: string, credentials?: { username: string; password: string }): Promise<void> {
  // With the account (marketplaceCredentials), its own drafts count as available.
  const client = new MarketplaceClient(marketplace, credentials);
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

/**
 * The check for a plain URL (§1.1's third form). There is no entry, so no signature, expiry or
 * checksum to check: what remains of §11.1 is that the location answers. As StratusLab's
 * client did, a HEAD request follows the redirects, and the URL it ends at is what the cloud
 * is asked to run.
 */
export async function checkImageUrl(url: string): Promise<string> {
  let answer: { url: string; status: number; statusText: string };
  try {
    answer = await resolveUrl(url);
  } catch (e) {
    throw new StratusError('DOWNLOAD_FAILED', `Image URL ${url} does not answer: ${(e as Error).message}`, { hint: URL_HINT });
  }
  if (answer.status < 200 || answer.status > 299) {
    throw new StratusError('DOWNLOAD_FAILED', `Image URL ${answer.url} does not answer: HTTP ${answer.status} ${answer.statusText}`.trim(), { hint: URL_HINT });
  }
  return answer.url;
}

const URL_HINT = 'Check the URL; --no-check-image-url skips this check and lets the cloud try the URL itself.';
