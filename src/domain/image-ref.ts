import { StratusError } from '../domain/errors.js';

const MARKETPLACE_ID = /^[A-Za-z0-9_-]{27}$/;
const PDISK_UUID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

export type ImageRef = { kind: 'marketplace'; id: string; text: string } | { kind: 'pdisk'; text: string } | { kind: 'url'; text: string };

/**
 * The three forms of run-instance's image argument (§1.1): a Marketplace ID, a pdisk volume
 * UUID (lower case only, as StratusLab matched it), or a URL. A URL is run when it names an
 * entry (`…/metadata/<ID>`, of this Marketplace or another one: the ID is what is cached and
 * verified) or a volume of this pdisk (`…/pswd/disks/<uuid>`, `pdisk:…:<uuid>`); any other
 * http(s) URL is a plain image the server fetches for the user (other schemes are refused).
 */
export function imageRefOf(text: string): ImageRef {
  const t = text.trim();
  if (MARKETPLACE_ID.test(t)) return { kind: 'marketplace', id: t, text: t };
  if (PDISK_UUID.test(t)) return { kind: 'pdisk', text: t };
  const entry = /^https?:\/\/[^/]+(?:\/[^?#]*)?\/metadata\/([A-Za-z0-9_-]{27})(?:\/[^?#]*)?(?:[?#].*)?$/.exec(t);
  if (entry) return { kind: 'marketplace', id: entry[1] as string, text: t };
  const volume = /^(?:https?:\/\/[^/]+(?:\/pswd|\/cert)?\/disks\/|pdisk:.*:)([a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12})$/.exec(t);
  if (volume) return { kind: 'pdisk', text: volume[1] as string };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(t)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    try {
      return { kind: 'url', text: new URL(t).href };
    } catch {
      // not a URL after all: the usage error below
    }
  } else if (scheme !== undefined && scheme !== 'pdisk') {
    throw new StratusError('URL_REFUSED', `cannot run image '${text}': only http and https URLs are fetched, not ${scheme}:`, {
      hint: 'Put the image on a web server, upload it to pdisk (stratus-upload-image), or give a Marketplace ID.',
    });
  }
  throw new StratusError('USAGE', `cannot run image '${text}': it is neither a Marketplace ID (27 characters), a pdisk volume UUID, nor an http(s) URL`, {
    hint: 'Find an image with stratus-search-image, or give the UUID of one of your volumes (stratus-describe-volumes).',
  });
}
