import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Document } from '@xmldom/xmldom';
import { StratusError } from '../domain/errors.js';
import { fetchImage, quietEvents } from '../images/index.js';
import type { PipelineEvents } from '../images/index.js';
import type { Credentials } from '../client/pdisk-client.js';
import { readEntry } from '../metadata/entry/entry.js';
import type { Entry } from '../metadata/entry/entry.js';
import type { InstanceDisks } from '../volumes/instance-disks.js';
import type { VolumeRow } from '../storage/volumes/store.js';
import { applySitePolicy } from './site-policy.js';
import type { SitePolicy } from './site-policy.js';

/**
 * What the cache needs from the Marketplace: the signed entries of an identifier, each
 * endorser's latest valid one, as `viewer` sees them (a draft only for its owner and the admin).
 */
export type EntriesOf = (identifier: string, viewer: EntryViewer) => Promise<Document[]>;

/** Who runs the image: the Marketplace shows drafts to their owner and the admin only. */
export interface EntryViewer {
  id: string;
  admin: boolean;
}

export interface ImageCacheOptions {
  disks: InstanceDisks;
  entriesOf: EntriesOf;
  /** This server's own URL: pdisk locations naming this host are fetched from it. */
  ownUrl: () => string;
  /** The pdisk user's account on this server (the cache reads private image volumes as StratusLab's pdisk user did). */
  ownCredentials: () => Credentials | undefined;
  policy?: SitePolicy;
  events?: PipelineEvents;
}

/**
 * The image cache of §11.3, kept in pdisk: a Marketplace image is fetched once (verified:
 * signature, SHA-1, size; resumable) into an origin volume shared by all users, and each
 * instance gets its own copy-on-write snapshot. Requests for an image being fetched wait for
 * that one download.
 */
export class ImageCache {
  private readonly inFlight = new Map<string, Promise<VolumeRow>>();

  constructor(private readonly o: ImageCacheOptions) {}

  /**
   * The cached origin of a Marketplace ID, fetched on a miss, with the entry it was fetched
   * for (format, bus and inbound ports come from it); the site policy holds in both cases.
   */
  async origin(identifier: string, viewer: EntryViewer): Promise<{ volume: VolumeRow; entry: Entry }> {
    const docs = await this.o.entriesOf(identifier, viewer);
    if (docs.length === 0) {
      throw new StratusError('NO_MATCH', `no valid metadata entry for image ${identifier}`, { hint: 'Deprecated and expired entries cannot be run; check the identifier with stratus-search-image.' });
    }
    const allowed = applySitePolicy(docs, this.o.policy);
    const entry = readEntry(allowed[0] as Document);
    const format = formatOf(entry);
    const hit = await this.o.disks.origin(identifier);
    if (hit && hit.format !== format) {
      // Cached before origins kept their format, or a volume uploaded as plain bytes: read as
      // it is stored, the guest would find no boot disk.
      throw new StratusError('VOLUME_STATE', `the cached image of ${identifier} (volume ${hit.uuid}) is stored as ${hit.format}, but its entry says ${format} (dcterms:format)`, {
        hint: 'An admin deletes that volume (stratus-delete-volume); the next run then fetches the image again, in its format.',
      });
    }
    if (hit) return { volume: hit, entry };
    let pending = this.inFlight.get(identifier);
    if (!pending) {
      pending = this.download(identifier, allowed, format).finally(() => this.inFlight.delete(identifier));
      this.inFlight.set(identifier, pending);
    }
    return { volume: await pending, entry };
  }

  private async download(identifier: string, docs: Document[], format: 'raw' | 'qcow2'): Promise<VolumeRow> {
    mkdirSync(this.o.disks.scratchDir, { recursive: true, mode: 0o700 });
    const output = join(this.o.disks.scratchDir, `${identifier}.img`);
    const own = this.o.ownUrl();
    await fetchImage({
      docs, what: identifier, output,
      pdiskEndpointFor: (endpoint) => (own && sameServer(own, endpoint) ? own : endpoint),
      credentialsFor: async (endpoint) => (own && sameServer(own, endpoint) ? this.o.ownCredentials() : undefined),
    }, this.o.events ?? quietEvents);
    try {
      // Another server sharing the database may have cached it meanwhile.
      return (await this.o.disks.origin(identifier)) ?? (await this.o.disks.addOrigin(output, { identifier, format }));
    } finally {
      rmSync(output, { force: true });
    }
  }
}

/** The entry's dcterms:format: the origin keeps it, so its snapshot reads a qcow2 image as qcow2. */
function formatOf(entry: Entry): 'raw' | 'qcow2' {
  const format = (entry.format ?? 'raw').trim().toLowerCase() || 'raw';
  if (format === 'raw' || format === 'qcow2') return format;
  throw new StratusError('IMAGE_UNSAFE', `image ${entry.identifier} is in format ${format} (dcterms:format); only raw and qcow2 images run here`, {
    hint: 'Ask the endorser for a raw or qcow2 image (qemu-img convert -O qcow2).',
  });
}

function sameServer(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    const port = (u: URL): string => u.port || (u.protocol === 'https:' ? '443' : '80');
    const local = (h: string): string => (h === 'localhost' || h === '[::1]' || h.startsWith('127.') ? 'loopback' : h);
    return local(x.hostname) === local(y.hostname) && port(x) === port(y);
  } catch {
    return false;
  }
}
