import { accessSync, constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StratusError } from '../../domain/errors.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import type { Credentials } from '../../client/pdisk-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import type { Context } from '../program.js';
import { printAction, printStep } from '../output.js';
import { addPdiskOptions, optionalPdiskCredentials, pdiskUrl } from '../pdisk.js';
import type { PdiskOptionValues } from '../pdisk.js';
import { fetchEntries, marketplaceOption, marketplaceUrl } from '../marketplace.js';
import { cliEvents } from '../events.js';
import { fetchImage } from '../../images/index.js';

interface DownloadOptions extends PdiskOptionValues {
  output: string;
  marketplaceEndpoint?: string;
}

export default async function main(argv: string[]): Promise<number> {
  const program = addPdiskOptions(marketplaceOption(newProgram('stratus-download-image',
    'Download an image from the locations in its signed metadata, checking the signature, then the SHA-1 and size of the decompressed content. An interrupted download resumes when run again with the same output.')))
    .argument('<image-id-or-url>', 'Marketplace identifier, or an entry URL')
    .option('-o, --output <file>', 'where to write the image', '/tmp/image.img')
    .action(async (idOrUrl: string, o: DownloadOptions) => {
      const ctx = contextOf(program);
      const out = ctx.output;
      const output = resolve(o.output);
      requireWritableDir(dirname(output));
      printAction(out, 'Starting image download');
      printStep(out, 'Fetching metadata');
      const docs = await fetchEntries(new MarketplaceClient(marketplaceUrl(ctx, o)), idOrUrl);
      const configured = safe(() => pdiskUrl(ctx, o));
      await fetchImage({
        docs, what: idOrUrl, output,
        pdiskEndpointFor: (endpoint) => sameServer(configured, endpoint) ? configured as string : endpoint,
        credentialsFor: credentialCache(ctx, o),
      }, cliEvents(out));
      out.out(`Image downloaded: ${output}`);
    });
  return runProgram(program, argv);
}

/** The account for pdisk locations, asked for (or prompted) once per server; none when no username is configured. */
function credentialCache(ctx: Context, o: PdiskOptionValues): (endpoint: string) => Promise<Credentials | undefined> {
  const known = new Map<string, Promise<Credentials | undefined>>();
  return (endpoint) => {
    let c = known.get(endpoint);
    if (!c) known.set(endpoint, c = optionalPdiskCredentials(ctx, o, endpoint));
    return c;
  };
}

/**
 * A `pdisk:host:port:uuid` location does not say http or https; when it names the server the
 * user configured, the configured URL (and its scheme) is used.
 */
function sameServer(configured: string | undefined, endpoint: string): boolean {
  if (!configured) return false;
  const a = new URL(configured);
  const b = new URL(endpoint);
  const port = (u: URL): string => u.port || (u.protocol === 'https:' ? '443' : '80');
  return a.hostname === b.hostname && port(a) === port(b);
}

/** The output, .part and temp files all go in this directory: check it before fetching anything. */
function requireWritableDir(dir: string): void {
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new StratusError('FILE_NOT_FOUND', `cannot write into ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      hint: 'Give -o/--output a file in an existing, writable directory.',
    });
  }
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}
