import { StratusError } from '../../domain/errors.js';
import { requireUuid } from '../../domain/volume.js';
import { checkSaveRequest, saveVmName } from '../../domain/instance-wire.js';
import type { RunInstancesRequest, SaveRequest } from '../../domain/instance-wire.js';
import { writeFileAtomic } from '../../platform/files.js';
import { contextOf, newProgram, runProgram } from '../program.js';
import type { Context } from '../program.js';
import { printDetail, printWarning } from '../output.js';
import { cloudClient, cloudUrl } from '../cloud.js';
import { checkImageAvailability, checkImageUrl } from '../image-check.js';
import { marketplaceCredentials } from '../marketplace.js';
import { imageRefOf } from '../../domain/image-ref.js';
import { addRunnableOptions, listTypesIfAsked, marketplaceFor, printStarted, printStarting, runnableRequest, whole } from '../runnable.js';
import type { RunnableValues } from '../runnable.js';

interface RunOptions extends RunnableValues {
  number: string;
  output?: string;
  vmName?: string;
  checkImageUrl: boolean;
  persistentDisk?: string;
  readonlyDisk?: string;
  volatileDisk?: string;
  qcowDiskFormat?: boolean;
  save?: boolean;
  author?: string;
  authorEmail?: string;
  imageVersion?: string;
  title?: string;
  comment?: string;
  marketplaceEndpointNewimage?: string;
}

const MARKETPLACE_ID = /^[A-Za-z0-9_-]{27}$/;

/** `stratus-run-instance [options] image` (reference §1.1): starts VMs and prints their IDs and addresses. */
export default async function main(argv: string[]): Promise<number> {
  const program = addRunnableOptions(newProgram('stratus-run-instance', 'Start one or more virtual machines from a Marketplace ID, a pdisk volume UUID, or a URL (of a Marketplace entry, or of an image the cloud fetches).'))
    .argument('[image]', 'Marketplace ID, pdisk volume UUID, or URL')
    .option('-n, --number <n>', 'number of VMs', '1')
    .option('-o, --output <file>', 'write the VM IDs there, one per line')
    .option('--vm-name <name>', 'the VM\'s name (default one-<id>)')
    .option('--no-check-image-url', 'skip the image availability check')
    .option('--qcow-disk-format', 'the image, when a plain URL, is qcow2 (default raw; ignored for IDs)')
    .option('--persistent-disk <uuid>', 'attach this pdisk volume to each VM (yours read-write, a PUBLIC one read-only)')
    .option('--readonly-disk <id>', 'attach another Marketplace image, read-only')
    .option('--volatile-disk <gb>', 'attach an empty disk of this many GB, removed with the VM')
    .option('--save', 'save the root disk as a new image at shutdown (stratus-shutdown-instance); needs the five options below')
    .option('--author <name>', 'with --save: the new image\'s author')
    .option('--author-email <email>', 'with --save: where the new image\'s identifier is mailed')
    .option('--image-version <version>', 'with --save: the new image\'s version')
    .option('--title <text>', 'with --save: the new image\'s title (and its volume\'s tag)')
    .option('--comment <text>', 'with --save: the new image\'s description')
    .option('--marketplace-endpoint-newimage <url>', 'with --save: the Marketplace the new image\'s draft entry goes to (default: the cloud\'s)')
    // OpenNebula-only options StratusLab had: accepted so scripts keep working (docs/compat.md).
    .option('--notify <spec>', 'accepted, ignored (removed from StratusLab in 2013)')
    .option('--local-ip', 'accepted, ignored (one network)')
    .option('--private-ip', 'accepted, ignored (one network)')
    .action(async (given: string | undefined, o: RunOptions) => {
      let image = given;
      const ctx = contextOf(program);
      if (listTypesIfAsked(ctx, o)) return;
      if (!image) throw new StratusError('USAGE', 'missing the image to run', { hint: 'Give a Marketplace ID, a pdisk volume UUID or a URL; -l lists the instance types.' });
      const runnable = runnableRequest(ctx, o);
      const count = whole(o.number, '-n/--number', 1);
      const save = saveOf(o);
      const endpoint = cloudUrl(ctx, o);
      printDetail(ctx.output, `Accessing compute service at: ${endpoint}`);
      // §2.4: a --save run skips the availability check, as StratusLab's client did.
      const check = o.checkImageUrl && !save;
      if (MARKETPLACE_ID.test(image)) {
        if (check) {
          printDetail(ctx.output, 'Checking image availability.');
          // The user's own draft entries are seen only with her credentials (sent to her own server only).
          const marketplace = marketplaceFor(ctx, o, endpoint);
          await checkImageAvailability(marketplace, image, marketplaceCredentials(ctx, marketplace, o));
        } else {
          printWarning(ctx.output, 'Image availability check is disabled.');
        }
      }
      const plainUrl = imageRefOf(image).kind === 'url';
      if (plainUrl) image = await checkPlainUrl(ctx, image, check);
      const request: RunInstancesRequest = {
        ...runnable, image, count,
        ...(save ? { name: saveVmName(new Date()), save } : o.vmName ? { name: o.vmName } : {}),
        ...(o.persistentDisk !== undefined ? { persistentDisk: requireUuid(o.persistentDisk) } : {}),
        ...(o.readonlyDisk !== undefined ? { readonlyDisk: o.readonlyDisk } : {}),
        ...(o.volatileDisk !== undefined ? { volatileDiskGiB: whole(o.volatileDisk, '--volatile-disk', 1) } : {}),
        ...(plainUrl && o.qcowDiskFormat ? { diskFormat: 'qcow2' as const } : {}),
      };
      const client = await cloudClient(ctx, o);
      const quiet = ctx.output.level < 0;
      if (!quiet) printStarting(ctx, count);
      const started = await client.runInstances(request);
      printStarted(ctx, started, quiet);
      if (o.output) writeFileAtomic(o.output, started.map((i) => String(i.id)).join('\n'));
    });
  return runProgram(program, argv);
}

/** The --save options (§1.1): all five required with --save, in StratusLab's words; undefined without --save. */
export function saveOf(o: Pick<RunOptions, 'save' | 'author' | 'authorEmail' | 'imageVersion' | 'title' | 'comment' | 'marketplaceEndpointNewimage'>): SaveRequest | undefined {
  if (!o.save) return undefined;
  return checkSaveRequest({
    author: o.author, authorEmail: o.authorEmail, imageVersion: o.imageVersion, title: o.title, comment: o.comment,
    ...(o.marketplaceEndpointNewimage !== undefined ? { marketplace: o.marketplaceEndpointNewimage } : {}),
  }, {
    author: '--author', authorEmail: '--author-email', imageVersion: '--image-version', title: '--title', comment: '--comment', marketplace: '--marketplace-endpoint-newimage',
  }, 'With the --save option, please provide ');
}

/** A plain URL: the HEAD check (unless disabled) and the warning that nothing vouches for it; returns the URL to run. */
async function checkPlainUrl(ctx: Context, url: string, check: boolean): Promise<string> {
  let final = url;
  if (check) {
    printDetail(ctx.output, 'Checking image availability.');
    final = await checkImageUrl(url);
  } else {
    printWarning(ctx.output, 'Image availability check is disabled.');
  }
  printWarning(ctx.output, `${final} is a plain URL: no signature or checksum vouches for the image it gives.`);
  return final;
}
