import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { StratusError } from '../../domain/errors.js';
import { requireUuid } from '../../domain/volume.js';
import { formatInstanceTypes, instanceTypes, resolveInstanceType, DEFAULT_INSTANCE_TYPE } from '../../domain/instance-types.js';
import { NETWORK_MODELS, checkSaveRequest, networkModelOf, saveVmName } from '../../domain/instance-wire.js';
import type { InstanceInfo, RunInstancesRequest, SaveRequest } from '../../domain/instance-wire.js';
import { buildContext, contextLines, parsePairs, readContextFile } from '../../context/cloud-init-pairs.js';
import { lintContext } from '../../context/lint.js';
import { mergeContext } from '../../context/one.js';
import { writeFileAtomic } from '../../platform/files.js';
import { contextOf, newProgram, runProgram, MARKETPLACE_ENDPOINT } from '../program.js';
import type { Context } from '../program.js';
import { printAction, printDetail, printStep, printWarning } from '../output.js';
import { addCloudOptions, cloudClient, cloudUrl, homePath } from '../cloud.js';
import type { CloudOptionValues } from '../cloud.js';
import { checkImageAvailability, checkImageUrl } from '../image-check.js';
import { marketplaceCredentials } from '../marketplace.js';
import { imageRefOf } from '../../domain/image-ref.js';

interface RunOptions extends CloudOptionValues {
  key?: string;
  type?: string;
  listTypes?: boolean;
  cpu?: string;
  ram?: string;
  swap?: string;
  number: string;
  output?: string;
  vmName?: string;
  contextFile?: string;
  context?: string;
  contextMethod?: string;
  cloudInit?: string;
  checkImageUrl: boolean;
  vmDisksBus?: string;
  vmNetworkModel?: string;
  persistentDisk?: string;
  readonlyDisk?: string;
  volatileDisk?: string;
  vncPort?: string;
  vncListen?: string;
  quiet?: number;
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
  const program = addCloudOptions(newProgram('stratus-run-instance', 'Start one or more virtual machines from a Marketplace ID, a pdisk volume UUID, or a URL (of a Marketplace entry, or of an image the cloud fetches).'))
    .argument('[image]', 'Marketplace ID, pdisk volume UUID, or URL')
    .option('-k, --key <file>', 'SSH public key file (env STRATUSLAB_KEY; default ~/.ssh/id_rsa.pub)')
    .option('-t, --type <type>', `instance type (default ${DEFAULT_INSTANCE_TYPE}; -l lists them)`)
    .option('-l, --list-types', 'print the instance types and exit')
    .option('--list-type', 'deprecated: --list-types')
    .option('--cpu <n>', 'vCPUs, instead of the type\'s')
    .option('--ram <mb>', 'RAM in MB, instead of the type\'s')
    .option('--swap <mb>', 'swap in MB, instead of the type\'s')
    .option('-n, --number <n>', 'number of VMs', '1')
    .option('-o, --output <file>', 'write the VM IDs there, one per line')
    .option('--vm-name <name>', 'the VM\'s name (default one-<id>)')
    .option('--context-file <file>', 'extra context, one KEY=value per line (e.g. cloud-init.txt from stratus-prepare-context)')
    .option('--context <pairs>', 'extra context pairs KEY=value, separated by #')
    .option('--context-method <method>', 'one or cloud-init (config default_context_method; default one)')
    .option('--cloud-init <pairs>', 'cloud-init context: mimetype,file pairs separated by # (ssh, none, x-shellscript, cloud-config, …)')
    .option('--no-check-image-url', 'skip the image availability check')
    .option('--qcow-disk-format', 'the image, when a plain URL, is qcow2 (default raw; ignored for IDs)')
    .option('--vm-disks-bus <bus>', 'ide, scsi or virtio, instead of the image\'s disks-bus')
    .option('--vm-network-model <model>', `the network card: ${NETWORK_MODELS.join(', ')} (default virtio)`)
    .option('--persistent-disk <uuid>', 'attach this pdisk volume to each VM (yours read-write, a PUBLIC one read-only)')
    .option('--readonly-disk <id>', 'attach another Marketplace image, read-only')
    .option('--volatile-disk <gb>', 'attach an empty disk of this many GB, removed with the VM')
    .option('--vnc-port <port>', 'the VNC server\'s port (default -1: the cloud picks a free one); describe-instance --json shows it, and its password to you alone')
    .option('--vnc-listen <ip>', 'the VNC server\'s address (default 127.0.0.1; others only if the cloud\'s administrator allows them)')
    .option('--save', 'save the root disk as a new image at shutdown (stratus-shutdown-instance); needs the five options below')
    .option('--author <name>', 'with --save: the new image\'s author')
    .option('--author-email <email>', 'with --save: where the new image\'s identifier is mailed')
    .option('--image-version <version>', 'with --save: the new image\'s version')
    .option('--title <text>', 'with --save: the new image\'s title (and its volume\'s tag)')
    .option('--comment <text>', 'with --save: the new image\'s description')
    .option('--marketplace-endpoint-newimage <url>', 'with --save: the Marketplace the new image\'s draft entry goes to (default: the cloud\'s)')
    .option('--marketplace-endpoint <url>', 'Marketplace for the availability check (env STRATUSLAB_MARKETPLACE_ENDPOINT; default: the cloud endpoint)')
    // OpenNebula-only options StratusLab had: accepted so scripts keep working (docs/compat.md).
    .option('--vm-requirements <text>', 'accepted, ignored (OpenNebula scheduling)')
    .option('--notify <spec>', 'accepted, ignored (removed from StratusLab in 2013)')
    .option('--keymap <map>', 'accepted, ignored')
    .option('--use-host-cpu', 'accepted, ignored (the host CPU is used whenever KVM works)')
    .option('--vm-cpu-amount <f>', 'accepted, ignored (OpenNebula CPU share)')
    .option('--vm-template-file <file>', 'accepted, ignored (no OpenNebula template)')
    .option('--local-ip', 'accepted, ignored (one network)')
    .option('--private-ip', 'accepted, ignored (one network)')
    .action(async (given: string | undefined, o: RunOptions & { listType?: boolean }) => {
      let image = given;
      const ctx = contextOf(program);
      const types = instanceTypes(ctx.config.sectionValues('instance_types'));
      for (const name of types.ignored) printWarning(ctx.output, `[instance_types] ${name} is not "cpu, ram, swap": ignored`);
      if (o.listTypes || o.listType) {
        ctx.output.out(formatInstanceTypes(types.types, o.type ?? DEFAULT_INSTANCE_TYPE));
        return;
      }
      if (!image) throw new StratusError('USAGE', 'missing the image to run', { hint: 'Give a Marketplace ID, a pdisk volume UUID or a URL; -l lists the instance types.' });
      const type = resolveInstanceType(types.types, o.type ?? DEFAULT_INSTANCE_TYPE, {
        ...(o.cpu !== undefined ? { cpu: whole(o.cpu, '--cpu', 1) } : {}),
        ...(o.ram !== undefined ? { ramMiB: whole(o.ram, '--ram', 16) } : {}),
        ...(o.swap !== undefined ? { swapMiB: whole(o.swap, '--swap', 0) } : {}),
      });
      const count = whole(o.number, '-n/--number', 1);
      const save = saveOf(o);
      const context = contextOf_(ctx, o);
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
        image, count, type: o.type ?? DEFAULT_INSTANCE_TYPE, cpu: type.cpu, ramMiB: type.ramMiB, swapMiB: type.swapMiB,
        ...(save ? { name: saveVmName(new Date()), save } : o.vmName ? { name: o.vmName } : {}), ...context,
        ...(o.vmDisksBus ? { diskBus: bus(o.vmDisksBus) } : {}), ...(o.vmNetworkModel ? { networkModel: networkModelOf(o.vmNetworkModel, '--vm-network-model') } : {}),
        ...(o.persistentDisk !== undefined ? { persistentDisk: requireUuid(o.persistentDisk) } : {}),
        ...(o.readonlyDisk !== undefined ? { readonlyDisk: o.readonlyDisk } : {}),
        ...(o.volatileDisk !== undefined ? { volatileDiskGiB: whole(o.volatileDisk, '--volatile-disk', 1) } : {}),
        ...(plainUrl && o.qcowDiskFormat ? { diskFormat: 'qcow2' as const } : {}),
        ...(o.vncPort !== undefined ? { vncPort: vncPort(o.vncPort) } : {}), ...(o.vncListen !== undefined ? { vncListen: o.vncListen } : {}),
      };
      const client = await cloudClient(ctx, o);
      const quiet = ctx.output.level < 0;
      if (!quiet) {
        printAction(ctx.output, 'Starting machine(s)');
        printStep(ctx.output, `Starting ${count} machine${count > 1 ? 's' : ''}`);
      }
      const started = await client.runInstances(request);
      report(ctx, started, quiet);
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

function report(ctx: Context, started: InstanceInfo[], quiet: boolean): void {
  started.forEach((vm, i) => {
    if (quiet) {
      process.stdout.write(`${vm.id}, ${vm.address ?? ''}\n`);
      return;
    }
    printStep(ctx.output, `Machine ${i + 1} (vm ID: ${vm.id})`);
    ctx.output.out(`\tPublic ip: ${vm.address ?? ''}`);
  });
  if (!quiet) printStep(ctx.output, 'Done!');
}

/**
 * The context to send (§8): --context-file lines, --context items and the cloud-init lines,
 * merged in that order (a later key wins); the method from --context-method, the config, a
 * non-empty --cloud-init or a CONTEXT_METHOD=cloud-init line; the keys from `ssh` pairs, or the
 * --key file when there are none.
 */
function contextOf_(ctx: Context, o: RunOptions): Pick<RunInstancesRequest, 'sshKeys' | 'userData' | 'contextMethod' | 'context'> {
  let keysFromPairs = '';
  const generated: string[] = [];
  if (o.cloudInit && o.cloudInit.trim()) {
    const pairs = parsePairs(o.cloudInit.split('#'));
    const built = buildContext(pairs);
    for (const w of lintContext(pairs, readContextFile, built.userData)) printWarning(ctx.output, w);
    keysFromPairs = built.authorizedKeys;
    generated.push(...contextLines(built));
  }
  const merged = mergeContext({
    ...(o.contextFile ? { fileText: readContextFile(o.contextFile).toString('utf8') } : {}),
    ...(o.context ? { items: [o.context] } : {}),
    generated,
  });
  const configured = o.contextMethod ?? ctx.setting({ key: 'default_context_method' }) ?? 'one';
  if (configured !== 'one' && configured !== 'cloud-init') throw new StratusError('USAGE', `--context-method must be one or cloud-init, not ${configured}`);
  const method = merged.get('CONTEXT_METHOD') === 'cloud-init' || (o.cloudInit?.trim() ?? '') !== '' ? 'cloud-init' : configured;
  const encodedKeys = merged.get('CLOUD_INIT_AUTHORIZED_KEYS');
  const keysText = keysFromPairs || (encodedKeys && method === 'cloud-init' ? Buffer.from(encodedKeys, 'base64').toString('utf8') : keyFile(ctx, o));
  const encodedUserData = merged.get('CLOUD_INIT_USER_DATA');
  const userData = method === 'cloud-init' && encodedUserData ? decodeUserData(encodedUserData) : undefined;
  const sshKeys = keysText.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('Comment:'));
  return { sshKeys, contextMethod: method, context: Object.fromEntries(merged), ...(userData ? { userData: userData.toString('base64') } : {}) };
}

/** The --key file (public_key, §8.2): it must exist, as StratusLab's client required. */
function keyFile(ctx: Context, o: RunOptions): string {
  const path = homePath(o.key ?? ctx.setting({ key: 'key' }) ?? '~/.ssh/id_rsa.pub');
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new StratusError('FILE_NOT_FOUND', `SSH public key file ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, {
      hint: 'Give -k/--key with your public key (ssh-keygen makes ~/.ssh/id_rsa.pub), or put ssh,<file> in --cloud-init.',
    });
  }
}

function decodeUserData(b64: string): Buffer {
  const bytes = Buffer.from(b64, 'base64');
  try {
    return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  } catch {
    throw new StratusError('USAGE', 'CLOUD_INIT_USER_DATA is not base64 of gzip data', { hint: 'Make the context file with stratus-prepare-context.' });
  }
}

function marketplaceFor(ctx: Context, o: RunOptions, endpoint: string): string {
  return ctx.config.origin(MARKETPLACE_ENDPOINT, o.marketplaceEndpoint) === 'default' ? endpoint : ctx.setting(MARKETPLACE_ENDPOINT, o.marketplaceEndpoint) as string;
}

function whole(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min) throw new StratusError('USAGE', `${what} must be a whole number ≥ ${min}, not ${text}`);
  return n;
}

function bus(text: string): 'ide' | 'scsi' | 'virtio' {
  if (text === 'ide' || text === 'scsi' || text === 'virtio') return text;
  throw new StratusError('USAGE', `--vm-disks-bus must be ide, scsi or virtio, not ${text}`);
}

/** -1 (StratusLab's default: the cloud picks) or a port; the cloud checks it against its range. */
export function vncPort(text: string): number {
  const n = Number(text);
  if (!/^(-1|\d{1,5})$/.test(text.trim()) || (n !== -1 && (n < 1 || n > 65535))) {
    throw new StratusError('USAGE', `--vnc-port must be -1 (the cloud picks a free port) or a port number, not ${text}`);
  }
  return n;
}
