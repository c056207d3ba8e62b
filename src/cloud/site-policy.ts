import type { Document } from '@xmldom/xmldom';
import { StratusError } from '../domain/errors.js';
import { readEntry, sha1Of } from '../metadata/entry/entry.js';

/** The site policy of §11.2: a white and a black list each of endorsers (e-mails), images (IDs) and checksums (SHA-1). */
export interface SitePolicy {
  whitelistEndorsers?: string[];
  blacklistEndorsers?: string[];
  whitelistImages?: string[];
  blacklistImages?: string[];
  whitelistChecksums?: string[];
  blacklistChecksums?: string[];
}

/**
 * The entries the policy lets through (§11.2), each judged on its own; an empty list is no
 * rule. None left: `Image isn't valid according to site policy`, with each entry's reason.
 */
export function applySitePolicy(docs: Document[], policy: SitePolicy | undefined): Document[] {
  if (!policy) return docs;
  const reasons: string[] = [];
  const kept = docs.filter((doc) => {
    const entry = readEntry(doc);
    const checks: Array<[string, string | undefined, string[] | undefined, string[] | undefined]> = [
      ['email endorser', entry.endorsement.email?.toLowerCase(), lower(policy.whitelistEndorsers), lower(policy.blacklistEndorsers)],
      ['image', entry.identifier, policy.whitelistImages, policy.blacklistImages],
      ['checksum', sha1Of(entry)?.toLowerCase(), lower(policy.whitelistChecksums), lower(policy.blacklistChecksums)],
    ];
    for (const [what, value, white, black] of checks) {
      if (white?.length && (value === undefined || !white.includes(value))) {
        reasons.push(`${what} ${value ?? '(none)'} is not whitelisted, rejecting entry`);
        return false;
      }
      if (black?.length && value !== undefined && black.includes(value)) {
        reasons.push(`${what} ${value} is blacklisted, rejecting entry`);
        return false;
      }
    }
    return true;
  });
  if (kept.length === 0) {
    throw new StratusError('POLICY_REFUSED', `Image isn't valid according to site policy: ${reasons.join('; ')}`, {
      hint: 'The site administrator decides which endorsers, images and checksums may run ([policy] in stratus.cfg).',
    });
  }
  return kept;
}

function lower(list: string[] | undefined): string[] | undefined {
  return list?.map((s) => s.toLowerCase());
}
