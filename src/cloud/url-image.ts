import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { identifierFromSha1 } from '../domain/identifier.js';
import { fetchUrl, quietEvents } from '../images/index.js';
import type { PipelineEvents, UrlGuard } from '../images/index.js';
import type { Principal } from '../accounts/accounts.js';
import type { InstanceDisks } from '../volumes/instance-disks.js';
import type { VolumeRow } from '../storage/volumes/store.js';
import type { SitePolicy } from './site-policy.js';

/** `[instances] url_max_mib`'s default: the largest image a plain URL may give, 20 GiB. */
export const DEFAULT_URL_MAX_MIB = 20 * 1024;

export interface UrlImagesOptions {
  disks: InstanceDisks;
  guard: UrlGuard;
  maxMiB?: number;
  policy?: SitePolicy;
  events?: PipelineEvents;
}

/**
 * Images run from a plain http(s) URL (§1.1's third form). There is no signed checksum to key
 * a shared cache on, so the image is fetched for the user who asked, into an origin volume
 * that is theirs and PRIVATE (counted in their quota); each instance boots a snapshot of it,
 * as for Marketplace images. A second run of the same URL fetches it again (the URL may give
 * other bytes now) and reuses the user's origin when the bytes are the same.
 */
export class UrlImages {
  private readonly inFlight = new Map<string, Promise<VolumeRow>>();

  constructor(private readonly o: UrlImagesOptions) {}

  /** The user's origin of `url` in `format`; requests of one user for one URL share a fetch. */
  async origin(user: Principal, url: string, format: 'raw' | 'qcow2'): Promise<VolumeRow> {
    const p = this.o.policy;
    if (p && (p.whitelistEndorsers?.length || p.whitelistImages?.length || p.whitelistChecksums?.length)) {
      throw new StratusError('POLICY_REFUSED', `Image isn't valid according to site policy: ${url} is a plain URL, with no endorser, image ID or checksum a whitelist could name`, {
        hint: 'This site runs only the images its policy lists: run a Marketplace ID instead.',
      });
    }
    const key = createHash('sha256').update(`${user.id ?? user.username}\0${format}\0${url}`).digest('hex').slice(0, 32);
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.download(user, url, format, key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async download(user: Principal, url: string, format: 'raw' | 'qcow2', key: string): Promise<VolumeRow> {
    mkdirSync(this.o.disks.scratchDir, { recursive: true, mode: 0o700 });
    const output = join(this.o.disks.scratchDir, `url-${key}.img`);
    const maxMiB = this.o.maxMiB ?? DEFAULT_URL_MAX_MIB;
    try {
      const { sha1 } = await fetchUrl({ url, output, maxBytes: maxMiB * 1024 * 1024, limitFrom: `[instances] url_max_mib = ${maxMiB}`, guard: this.o.guard }, this.o.events ?? quietEvents);
      if (this.o.policy?.blacklistChecksums?.some((c) => c.toLowerCase() === sha1)) {
        throw new StratusError('POLICY_REFUSED', `Image isn't valid according to site policy: checksum ${sha1} is blacklisted, rejecting ${url}`);
      }
      const identifier = `url:${format}:${identifierFromSha1(sha1)}`;
      return (await this.o.disks.ownOrigin(user, identifier))
        ?? (await this.o.disks.addOrigin(output, { identifier, format, owner: user, tag: url, bootable: format === 'raw' }));
    } finally {
      rmSync(output, { force: true });
    }
  }
}
