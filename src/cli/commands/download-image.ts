import { accessSync, constants } from 'node:fs';
import { dirname, basename, join, resolve } from 'node:path';
import type { Document } from '@xmldom/xmldom';
import { StratusError } from '../../domain/errors.js';
import { validateDocument } from '../../metadata/validate/validate.js';
import { readEntry, sha1Of } from '../../metadata/entry/entry.js';
import type { Entry } from '../../metadata/entry/entry.js';
import { progressBar } from '../../platform/progress.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import type { Credentials } from '../../client/pdisk-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import type { Context } from '../program.js';
import { printAction, printInfo, printStep, printWarning } from '../output.js';
import { addPdiskOptions, optionalPdiskCredentials, pdiskUrl } from '../pdisk.js';
import type { PdiskOptionValues } from '../pdisk.js';
import { fetchEntries, marketplaceOption, marketplaceUrl } from '../marketplace.js';
import { PartFiles } from '../transfer/part.js';
import { sourceFor } from '../transfer/locations.js';
import { receive } from '../transfer/receive.js';
import type { Expected, Outcome } from '../transfer/receive.js';

interface DownloadOptions extends PdiskOptionValues {
  output: string;
  marketplaceEndpoint?: string;
}

/** Tries of one location in a run when the connection breaks but bytes keep arriving. */
const NETWORK_TRIES = 3;

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
      printStep(out, 'Checking metadata');
      const entries = trustedEntries(ctx, docs, idOrUrl);
      const expected = expectedOf(entries[0] as Entry);
      const files = new PartFiles(output);
      const locations = orderLocations(entries, files, expected.identifier);
      if (locations.length === 0) throw new StratusError('DOWNLOAD_FAILED', `the metadata of ${expected.identifier} gives no location`);

      printStep(out, 'Downloading image');
      const credentials = credentialCache(ctx, o);
      const configured = safe(() => pdiskUrl(ctx, o));
      const failures: string[] = [];
      for (const location of locations) {
        const source = sourceFor(location, (endpoint) => sameServer(configured, endpoint) ? configured as string : endpoint, credentials);
        if (typeof source === 'string') {
          fail(ctx, failures, location, source);
          continue;
        }
        printInfo(out, `Trying ${location}`);
        let outcome: Outcome;
        for (let tries = 1; ; tries++) {
          outcome = await receive({
            source, files, output, expected,
            temp: join(dirname(output), `.${basename(output)}.download`),
            progress: (total) => progressBar(`downloading ${basename(output)}`, total),
            note: (m) => printInfo(out, m),
          });
          if (outcome.ok || outcome.kind !== 'network' || !outcome.progressed || tries >= NETWORK_TRIES) break;
          printWarning(out, `${location}: ${outcome.reason}; resuming`);
        }
        if (outcome.ok) {
          out.out(`Image downloaded: ${output}`);
          return;
        }
        fail(ctx, failures, location, outcome.reason);
      }
      const kept = files.read(expected.identifier);
      throw new StratusError('DOWNLOAD_FAILED', `no location of ${expected.identifier} gave the image:\n${failures.map((f) => `    ${f}`).join('\n')}`, kept
        ? { hint: `The partial download is kept in ${files.part}; run the same command again to resume it.` }
        : {});
    });
  return runProgram(program, argv);
}

/**
 * Entries whose signature verifies and whose endorser block matches the certificate; the
 * signer of each is printed. Other validation findings are shown but do not stop the download:
 * the content is checked against the SHA-1 anyway.
 */
function trustedEntries(ctx: Context, docs: Document[], what: string): Entry[] {
  const trusted: Entry[] = [];
  const refusals: string[] = [];
  for (const doc of docs) {
    const report = validateDocument(doc);
    const fatal = report.findings.filter((f) => f.check === 'signature' || f.check === 'endorser');
    const entry = readEntry(doc);
    if (fatal.length > 0) {
      refusals.push(fatal.map((f) => f.message).join('; '));
      printWarning(ctx.output, `entry by ${entry.endorsement.email ?? '?'} refused: ${refusals.at(-1) ?? ''}`);
      continue;
    }
    for (const f of report.findings) printWarning(ctx.output, `metadata: ${f.message}`);
    const cert = report.signature?.certificate;
    printInfo(ctx.output, `Signed by: ${cert?.subject ?? entry.endorsement.subject ?? '?'} <${cert?.email ?? entry.endorsement.email ?? '?'}>`);
    trusted.push(entry);
  }
  if (trusted.length === 0) {
    throw new StratusError(refusals.every((r) => r === 'no signature') ? 'SIGNATURE_MISSING' : 'SIGNATURE_INVALID',
      `the metadata of ${what} does not verify: ${refusals.join(' | ')}`, { hint: 'Nothing was downloaded. Ask the endorser to re-sign the entry.' });
  }
  return trusted;
}

function expectedOf(entry: Entry): Expected {
  const sha1 = sha1Of(entry);
  if (!sha1) throw new StratusError('METADATA_INVALID', `the metadata of ${entry.identifier} has no single SHA-1 checksum to check the download against`);
  // slreq:bytes bounds what the download may write (the schema requires it; other schema findings are only warnings here).
  if (entry.bytes === undefined) {
    throw new StratusError('METADATA_INVALID', `the metadata of ${entry.identifier} gives no size (slreq:bytes), so the download could not be bounded`, {
      hint: 'Nothing was downloaded. Ask the endorser to publish an entry with slreq:bytes.',
    });
  }
  return { identifier: entry.identifier, sha1, bytes: entry.bytes };
}

/** Every entry's locations, once each; the one a previous run was downloading from comes first. */
function orderLocations(entries: Entry[], files: PartFiles, identifier: string): string[] {
  const all = [...new Set(entries.flatMap((e) => e.locations))];
  const resuming = files.read(identifier)?.location;
  return resuming && all.includes(resuming) ? [resuming, ...all.filter((l) => l !== resuming)] : all;
}

function fail(ctx: Context, failures: string[], location: string, reason: string): void {
  printWarning(ctx.output, `${location}: ${reason}`);
  failures.push(`${location}: ${reason}`);
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
