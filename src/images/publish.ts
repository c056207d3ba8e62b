import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Document } from '@xmldom/xmldom';
import { StratusError, isStratusError } from '../domain/errors.js';
import { identifierFromSha1 } from '../domain/identifier.js';
import { pdiskLocation } from '../domain/volume.js';
import type { VolumeInfo } from '../domain/volume.js';
import { BUILD_DIGESTS, buildEntryXml } from '../metadata/entry/build.js';
import type { EntryDraft } from '../metadata/entry/build.js';
import { readEntry } from '../metadata/entry/entry.js';
import { parseXml } from '../metadata/xml/parse.js';
import { serializeDocument } from '../metadata/xml/serialize.js';
import { signDocument } from '../metadata/dsig/sign.js';
import type { SignOptions } from '../metadata/dsig/sign.js';
import type { DigestResult } from '../platform/hashing.js';
import { writeFileAtomic } from '../platform/files.js';
import type { MarketplaceClient } from '../client/marketplace-client.js';
import type { PdiskClient } from '../client/pdisk-client.js';
import type { PipelineEvents } from './events.js';
import { addLocation, setCompression } from './transfer/manifest.js';
import { digestSource, prepareSource } from './transfer/image-source.js';
import type { ImageSource } from './transfer/image-source.js';

const ALL_DIGESTS = BUILD_DIGESTS.map(([, n]) => n);

/** What a volume is made with; on a volume found already, changed when they differ. */
export interface VolumeFields {
  tag?: string;
  visibility?: string;
  type?: string;
}

/** The entry of a published image: a given document, or one built from a draft of the content's digests. */
export type EntrySource = { document: Document; file?: string } | { draft: (content: DigestResult) => EntryDraft; keepAt?: string };

/** What to publish the image as: its entry, where, and signed by whom. */
export interface EntryPublication {
  entry: EntrySource;
  marketplace: MarketplaceClient;
  signing: SignOptions;
  /** Publish no new entry when the Marketplace lists a valid one of this image by this endorser. */
  unlessListedBy?: string;
}

export interface PublishRequest {
  /** What to upload (see planSource). */
  source: ImageSource;
  pdisk: PdiskClient;
  volume: VolumeFields;
  /** The content's identifier when known: a volume that holds it already is used, not uploaded again. */
  identifier?: string;
  /** Size and digests of the uncompressed content when known; otherwise computed if an entry is built. */
  digests?: DigestResult;
  /** Without it, only the image is uploaded. */
  publish?: EntryPublication;
  /** Told as soon as the volume holds the image (uploaded now, or found). */
  onVolume?(volume: VolumeInfo, created: boolean): void;
}

export interface PublishResult {
  volume: VolumeInfo;
  /** False when a volume holding the image was there already. */
  created: boolean;
  /** URL of the entry published now, or of the one listed already. */
  entry?: string;
  published: boolean;
}

/**
 * Publishes an image: gzip it (digests of the content in the same pass), upload it into a
 * pdisk volume (or use the volume that holds it already), then complete its entry with the
 * volume's pdisk: location and the compression, sign it and upload it to the Marketplace.
 * A run that failed after the upload can simply be repeated: the volume is found again.
 */
export async function publishImage(req: PublishRequest, events: PipelineEvents): Promise<PublishResult> {
  const building = req.publish !== undefined && 'draft' in req.publish.entry;
  events.action('Starting image upload');
  events.step('Compressing image');
  const computed = await prepareSource(req.source, building && !req.digests ? ALL_DIGESTS : [], events.detail, events.warn);
  let digests = req.digests ?? computed;
  const content = async (): Promise<DigestResult> => (digests ??= await digestSource(req.source, building ? ALL_DIGESTS : ['sha1']));

  events.step('Uploading image');
  const { volume, created } = await placeVolume(req, async () => req.identifier ?? identifierFromSha1((await content()).digests.sha1 as string), events);
  req.onVolume?.(volume, created);
  if (!req.publish) return { volume, created, published: false };
  const { entry: source, marketplace, signing, unlessListedBy } = req.publish;

  if (unlessListedBy) {
    const current = (await marketplace.list({ identifier: volume.identifier, endorser: unlessListedBy })).entries[0];
    if (current) {
      events.step(`The Marketplace already lists this image by ${unlessListedBy} (valid until ${current.valid})`);
      return { volume, created, entry: `${marketplace.endpoint}${current.path}`, published: false };
    }
  }

  events.action('Starting manifest upload');
  events.step('Parsing manifest');
  const doc = 'document' in source ? source.document : buildEntry(source, await content(), events);
  await requireSameImage(req, doc, volume, created);

  events.step('Updating manifest');
  addLocation(doc, pdiskLocation(req.pdisk.endpoint, volume.uuid));
  if (req.source.gzipped) setCompression(doc, 'gz');

  events.step('Signing manifest');
  signDocument(doc, signing);

  events.step('Uploading manifest');
  const entry = readEntry(doc);
  const { url } = await marketplace.upload(serializeDocument(doc));
  return { volume, created, published: true, entry: url || `${marketplace.endpoint}/metadata/${entry.identifier}/${entry.endorsement.email ?? ''}/${entry.endorsement.created ?? ''}` };
}

/**
 * The volume that holds the image. With the identifier known beforehand, a volume holding it
 * is looked for first; otherwise the file is streamed to the disk service, and when the
 * service has this content already ('Disk already registered', which it says only of the
 * caller's own volumes), the caller's volume with the file's own identifier (hashed here, never
 * taken from the metadata, which may be the wrong one) is used.
 */
async function placeVolume(req: PublishRequest, contentIdentifier: () => Promise<string>, events: PipelineEvents): Promise<{ volume: VolumeInfo; created: boolean }> {
  const { pdisk } = req;
  if (req.identifier) {
    const existing = await findVolume(pdisk, req.identifier);
    if (existing) return { volume: await withFields(pdisk, existing, req.volume, events), created: false };
  }
  let volume: VolumeInfo;
  try {
    volume = await upload(req, events);
  } catch (e) {
    if (!isStratusError(e, 'VOLUME_DUPLICATE')) throw e;
    const identifier = await contentIdentifier();
    const existing = await findVolume(pdisk, identifier);
    if (!existing) {
      throw new StratusError('VOLUME_DUPLICATE', `the disk service has this image (${identifier}) in a volume of yours that is no longer listed`, { hint: 'It was probably deleted meanwhile: publish again.' });
    }
    events.warn(`Disk already registered: volume ${existing.uuid} holds this image; using it`);
    return { volume: await withFields(pdisk, existing, req.volume, events), created: false };
  }
  if (req.identifier && volume.identifier !== req.identifier) {
    await pdisk.delete(volume.uuid);
    throw new StratusError('INTERNAL', `the disk service computed identifier ${volume.identifier} for ${req.source.upload}, but the image's is ${req.identifier}; the volume was deleted again`);
  }
  return { volume, created: true };
}

async function upload(req: PublishRequest, events: PipelineEvents): Promise<VolumeInfo> {
  const file = req.source.upload;
  const size = statSync(file).size;
  const bar = events.progress(`uploading ${basename(file)}`, size);
  const body = createReadStream(file, { highWaterMark: 1024 * 1024 });
  let sent = 0;
  body.on('data', (c: Buffer | string) => bar.update(sent += c.length));
  const volume = await req.pdisk.upload(body, { gzipped: req.source.gzipped, size, ...req.volume });
  bar.finish();
  return volume;
}

/** The origin volume (not a snapshot) holding `identifier`, among those the account sees. */
/** A volume holding the image: the caller's own first, else another account's PUBLIC one. */
async function findVolume(pdisk: PdiskClient, identifier: string): Promise<VolumeInfo | undefined> {
  const found = (await pdisk.list()).filter((v) => v.identifier === identifier && v.origin === null);
  if (found.length < 2) return found[0];
  const me = (await pdisk.me()).username;
  return found.find((v) => v.owner === me) ?? found[0];
}

/** The volume with the fields set where they differ; another account's volume is used as it is. */
async function withFields(pdisk: PdiskClient, volume: VolumeInfo, fields: VolumeFields, events: PipelineEvents): Promise<VolumeInfo> {
  const differs = (Object.keys(fields) as Array<keyof VolumeFields>).some((k) => fields[k] !== undefined && fields[k] !== volume[k]);
  if (!differs) return volume;
  try {
    return await pdisk.update(volume.uuid, fields);
  } catch (e) {
    if (!isStratusError(e, 'FORBIDDEN')) throw e;
    events.warn(`volume ${volume.uuid} belongs to ${volume.owner}: its tag, visibility and type are left as they are`);
    return volume;
  }
}

/** Builds the entry from its draft; written to `keepAt` when asked, as build-metadata would. */
function buildEntry(source: { draft: (content: DigestResult) => EntryDraft; keepAt?: string }, content: DigestResult, events: PipelineEvents): Document {
  const xml = buildEntryXml(source.draft(content));
  if (source.keepAt) {
    events.info(`Metadata file ${source.keepAt} not found: built it from the image`);
    try {
      writeFileAtomic(source.keepAt, xml);
    } catch (e) {
      if (!isStratusError(e)) throw e;
      events.warn(`${e.message}; the metadata is uploaded but not kept locally`);
    }
  }
  return parseXml(xml, { source: source.keepAt ?? 'built entry' });
}

/**
 * The metadata must describe the bytes the server stored: the identifier it computed while
 * inflating the upload. A mismatch means the wrong metadata file; the volume this run made is
 * removed again so that the corrected command can be run as is.
 */
async function requireSameImage(req: PublishRequest, doc: Document, volume: VolumeInfo, created: boolean): Promise<void> {
  const entry = readEntry(doc);
  if (entry.identifier === volume.identifier) return;
  if (created) await req.pdisk.delete(volume.uuid);
  const file = req.publish && 'file' in req.publish.entry ? req.publish.entry.file : undefined;
  const image = req.source.image;
  throw new StratusError('METADATA_INVALID',
    `${file ?? 'the metadata'} describes image ${entry.identifier || '(no identifier)'}, but the uploaded image is ${volume.identifier}`, {
      hint: `Use the metadata built for this image (stratus-build-metadata ${image})${file ? `, or move ${file} away so that stratus-upload-image builds it` : ''}.`
        + (created ? ` The uploaded volume ${volume.uuid} was deleted again.` : ''),
    });
}
