import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Document } from '@xmldom/xmldom';
import { StratusError, isStratusError } from '../../domain/errors.js';
import { identifierFromSha1 } from '../../domain/identifier.js';
import { pdiskLocation } from '../../domain/volume.js';
import type { VolumeInfo } from '../../domain/volume.js';
import { BUILD_DIGESTS, buildEntryXml } from '../../metadata/entry/build.js';
import { readEntry } from '../../metadata/entry/entry.js';
import { parseXml } from '../../metadata/xml/parse.js';
import { serializeDocument } from '../../metadata/xml/serialize.js';
import { signDocument } from '../../metadata/dsig/sign.js';
import type { SigningAlgorithmName } from '../../metadata/dsig/algorithms.js';
import type { SigningCredentials } from '../../metadata/cert/credentials.js';
import type { DigestResult } from '../../platform/hashing.js';
import { progressBar } from '../../platform/progress.js';
import { requireFile, writeFileAtomic } from '../../platform/files.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import type { PdiskClient } from '../../client/pdisk-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import type { Context } from '../program.js';
import { printAction, printDetail, printInfo, printStep, printWarning } from '../output.js';
import { addPdiskOptions, addVolumeFieldOptions, pdiskClient, volumeFieldsFrom } from '../pdisk.js';
import type { PdiskOptionValues } from '../pdisk.js';
import { addSigningOptions, signingCredentials } from '../credentials.js';
import type { SigningOptionValues } from '../credentials.js';
import { marketplaceOption, marketplaceUrl } from '../marketplace.js';
import { addLocation, draftFor, metadataFileFor, setCompression } from '../transfer/manifest.js';
import { digestSource, planSource, prepareSource } from '../transfer/image-source.js';
import type { ImageSource } from '../transfer/image-source.js';

interface UploadOptions extends PdiskOptionValues, SigningOptionValues {
  compress: string;
  imageOnly?: boolean;
  marketplaceEndpoint?: string;
  tag?: string;
  private?: boolean;
  public?: boolean;
  email?: string;
  [typeFlag: string]: unknown;
}

const ALL_DIGESTS = BUILD_DIGESTS.map(([, n]) => n);

export default async function main(argv: string[]): Promise<number> {
  let program = addSigningOptions(addPdiskOptions(marketplaceOption(newProgram('stratus-upload-image',
    'Upload an image to the disk service (gzipped, streamed) and, unless --image-only, add its pdisk location to its metadata, sign it and upload it to the Marketplace.'))))
    .argument('<image-file>', 'the image (raw or qcow2; may end in .gz)')
    .option('-C, --compress <format>', 'gz, bz2 or none (the disk service takes gz or none)', 'gz')
    .option('--image-only', 'upload the image only, not its metadata')
    .option('--email <addr>', 'endorser e-mail, when the certificate has no e-mail SubjectAltName');
  program = addVolumeFieldOptions(program);
  program.action(async (image: string, o: UploadOptions) => {
    const ctx = contextOf(program);
    const out = ctx.output;
    const fields = volumeFieldsFrom(o);
    const source = planSource(image, o.compress);
    requireFile(image, 'image file');
    const metadataFile = metadataFileFor(image);

    // Everything that can fail quickly fails before the image is sent: the metadata file,
    // the P12 password, the Marketplace address and the disk service account.
    const given = !o.imageOnly && existsSync(metadataFile) ? parseXml(readFileSync(metadataFile), { source: metadataFile }) : undefined;
    const credentials = o.imageOnly ? undefined : await signingCredentials(ctx, o);
    const marketplace = marketplaceUrl(ctx, o);
    const pdisk = await pdiskClient(ctx, o);
    await pdisk.me();

    printAction(out, 'Starting image upload');
    printStep(out, 'Compressing image');
    const needDigests = !o.imageOnly && !given;
    let digests = await prepareSource(source, needDigests ? ALL_DIGESTS : [], (m) => printDetail(out, m), (m) => printWarning(out, m));
    // Only needed when the server says it has this content already: which volume is it?
    const contentIdentifier = async (): Promise<string> => {
      digests ??= await digestSource(source, given || o.imageOnly ? ['sha1'] : ALL_DIGESTS);
      return identifierFromSha1(digests.digests.sha1 as string);
    };

    printStep(out, 'Uploading image');
    const { volume, created } = await uploadImage(pdisk, source, fields, contentIdentifier, (m) => printWarning(out, m));
    out.out(`Image uploaded: ${pdisk.volumeUrl(volume.uuid)}`);
    if (Object.keys(fields).length > 0) {
      const shown = Object.fromEntries(Object.keys(fields).map((k) => [k, volume[k as keyof typeof fields]]));
      out.out(`Image metadata updated: ${JSON.stringify(shown)}`);
    }
    if (o.imageOnly) return;

    printAction(out, 'Starting manifest upload');
    printStep(out, 'Parsing manifest');
    const doc = given ?? await buildManifest(ctx, image, metadataFile, digests ??= await digestSource(source, ALL_DIGESTS), source.gzipped ? 'gz' : '');
    await requireSameImage(pdisk, doc, volume, created, metadataFile, image);

    printStep(out, 'Updating manifest');
    addLocation(doc, pdiskLocation(pdisk.endpoint, volume.uuid));
    if (source.gzipped) setCompression(doc, 'gz');

    printStep(out, 'Signing manifest');
    signDocument(doc, { credentials: credentials as SigningCredentials, algorithm: o.algorithm as SigningAlgorithmName, ...(o.email ? { email: o.email } : {}) });

    printStep(out, 'Uploading manifest');
    const entry = readEntry(doc);
    const { url } = await new MarketplaceClient(marketplace).upload(serializeDocument(doc));
    out.out(`Manifest uploaded: ${url || `${marketplace}/metadata/${entry.identifier}/${entry.endorsement.email ?? ''}/${entry.endorsement.created ?? ''}`}`);
  });
  return runProgram(program, argv);
}

/**
 * Streams the file to the disk service. When the service already holds this content ('Disk
 * already registered'), the volume with the file's identifier (hashed here, never taken from
 * the metadata, which may be the wrong one) is used, so a run that failed at the manifest can
 * simply be repeated.
 */
async function uploadImage(pdisk: PdiskClient, source: ImageSource, fields: { tag?: string; visibility?: string; type?: string },
  contentIdentifier: () => Promise<string>, warn: (m: string) => void): Promise<{ volume: VolumeInfo; created: boolean }> {
  const size = statSync(source.upload).size;
  const bar = progressBar(`uploading ${basename(source.upload)}`, size);
  const body = createReadStream(source.upload, { highWaterMark: 1024 * 1024 });
  let sent = 0;
  body.on('data', (c: Buffer | string) => bar.update(sent += c.length));
  try {
    const volume = await pdisk.upload(body, { gzipped: source.gzipped, size, ...fields });
    bar.finish();
    return { volume, created: true };
  } catch (e) {
    if (!isStratusError(e, 'VOLUME_DUPLICATE')) throw e;
    const identifier = await contentIdentifier();
    const existing = (await pdisk.list()).find((v) => v.identifier === identifier);
    if (!existing) throw e;
    warn(`Disk already registered: volume ${existing.uuid} holds this image; using it`);
    const volume = Object.keys(fields).length > 0 ? await pdisk.update(existing.uuid, fields) : await pdisk.get(existing.uuid);
    return { volume, created: false };
  }
}

/** Builds the metadata the way stratus-build-metadata would, and writes it where it was expected. */
async function buildManifest(ctx: Context, image: string, metadataFile: string, digests: DigestResult, compression: string): Promise<Document> {
  const xml = buildEntryXml(draftFor(image, digests, compression));
  printInfo(ctx.output, `Metadata file ${metadataFile} not found: built it from the image`);
  try {
    writeFileAtomic(metadataFile, xml);
  } catch (e) {
    if (!isStratusError(e)) throw e;
    printWarning(ctx.output, `${e.message}; the metadata is uploaded but not kept locally`);
  }
  return parseXml(xml, { source: metadataFile });
}

/**
 * The metadata must describe the bytes the server stored: the identifier it computed while
 * inflating the upload. A mismatch means the wrong metadata file; the volume this run made is
 * removed again so that the corrected command can be run as is.
 */
async function requireSameImage(pdisk: PdiskClient, doc: Document, volume: VolumeInfo, created: boolean, metadataFile: string, image: string): Promise<void> {
  const entry = readEntry(doc);
  if (entry.identifier === volume.identifier) return;
  if (created) await pdisk.delete(volume.uuid);
  throw new StratusError('METADATA_INVALID',
    `${metadataFile} describes image ${entry.identifier || '(no identifier)'}, but the uploaded image is ${volume.identifier}`, {
      hint: `Use the metadata built for this image (stratus-build-metadata ${image}), or move ${metadataFile} away so that stratus-upload-image builds it.`
        + (created ? ` The uploaded volume ${volume.uuid} was deleted again.` : ''),
    });
}
