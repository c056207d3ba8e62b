import { existsSync, readFileSync } from 'node:fs';
import { parseXml } from '../../metadata/xml/parse.js';
import type { SigningAlgorithmName } from '../../metadata/dsig/algorithms.js';
import type { SigningCredentials } from '../../metadata/cert/credentials.js';
import { requireFile } from '../../platform/files.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { addPdiskOptions, addVolumeFieldOptions, pdiskClient, volumeFieldsFrom } from '../pdisk.js';
import type { PdiskOptionValues } from '../pdisk.js';
import { addSigningOptions, signingCredentials } from '../credentials.js';
import type { SigningOptionValues } from '../credentials.js';
import { marketplaceOption, marketplaceUrl } from '../marketplace.js';
import { cliEvents } from '../events.js';
import { draftFor, metadataFileFor, planSource, publishImage } from '../../images/index.js';

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

    const result = await publishImage({
      source, pdisk, volume: fields,
      ...(o.imageOnly ? {} : {
        publish: {
          entry: given ? { document: given, file: metadataFile } : { draft: (content) => draftFor(image, content, source.gzipped ? 'gz' : ''), keepAt: metadataFile },
          marketplace: new MarketplaceClient(marketplace),
          signing: { credentials: credentials as SigningCredentials, algorithm: o.algorithm as SigningAlgorithmName, ...(o.email ? { email: o.email } : {}) },
        },
      }),
      onVolume: (volume) => {
        out.out(`Image uploaded: ${pdisk.volumeUrl(volume.uuid)}`);
        if (Object.keys(fields).length > 0) {
          const shown = Object.fromEntries(Object.keys(fields).map((k) => [k, volume[k as keyof typeof fields]]));
          out.out(`Image metadata updated: ${JSON.stringify(shown)}`);
        }
      },
    }, cliEvents(out));
    if (result.entry) out.out(`Manifest uploaded: ${result.entry}`);
  });
  return runProgram(program, argv);
}
