import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { StratusError } from '../domain/errors.js';
import { formatInstanceTypes, instanceTypes, resolveInstanceType, DEFAULT_INSTANCE_TYPE } from '../domain/instance-types.js';
import { NETWORK_MODELS, networkModelOf } from '../domain/instance-wire.js';
import type { InstanceInfo, RunInstancesRequest } from '../domain/instance-wire.js';
import { buildContext, contextLines, parsePairs, readContextFile } from '../context/cloud-init-pairs.js';
import { lintContext } from '../context/lint.js';
import { mergeContext } from '../context/one.js';
import { MARKETPLACE_ENDPOINT } from './program.js';
import type { Context } from './program.js';
import { printAction, printStep, printWarning } from './output.js';
import { addCloudOptions, publicKeyPath } from './cloud.js';
import type { CloudOptionValues } from './cloud.js';

/**
 * The options StratusLab's `Runnable` class gave every command that starts VMs (reference
 * §1.1: run-instance, create-image, run-cluster), with --endpoint and the credentials.
 */
export function addRunnableOptions(program: Command): Command {
  return addCloudOptions(program)
    .option('-k, --key <file>', 'SSH public key file (env STRATUSLAB_KEY; default ~/.ssh/id_rsa.pub)')
    .option('-t, --type <type>', `instance type (default ${DEFAULT_INSTANCE_TYPE}; -l lists them)`)
    .option('-l, --list-types', 'print the instance types and exit')
    .option('--list-type', 'deprecated: --list-types')
    .option('--cpu <n>', 'vCPUs, instead of the type\'s')
    .option('--ram <mb>', 'RAM in MB, instead of the type\'s')
    .option('--swap <mb>', 'swap in MB, instead of the type\'s')
    .option('--context-file <file>', 'extra context, one KEY=value per line (e.g. cloud-init.txt from stratus-prepare-context)')
    .option('--context <pairs>', 'extra context pairs KEY=value, separated by #')
    .option('--context-method <method>', 'one or cloud-init (config default_context_method; default one)')
    .option('--cloud-init <pairs>', 'cloud-init context: mimetype,file pairs separated by # (ssh, none, x-shellscript, cloud-config, …)')
    .option('--vm-disks-bus <bus>', 'ide, scsi or virtio, instead of the image\'s disks-bus')
    .option('--vm-network-model <model>', `the network card: ${NETWORK_MODELS.join(', ')} (default virtio)`)
    .option('--vnc-port <port>', 'the VNC server\'s port (default -1: the cloud picks a free one); describe-instance --json shows it, and its password to you alone')
    .option('--vnc-listen <ip>', 'the VNC server\'s address (default 127.0.0.1; others only if the cloud\'s administrator allows them)')
    .option('--marketplace-endpoint <url>', 'Marketplace for the availability check (env STRATUSLAB_MARKETPLACE_ENDPOINT; default: the cloud endpoint)')
    // OpenNebula-only options StratusLab had: accepted so scripts keep working (docs/compat.md).
    .option('--vm-requirements <text>', 'accepted, ignored (OpenNebula scheduling)')
    .option('--keymap <map>', 'accepted, ignored')
    .option('--use-host-cpu', 'accepted, ignored (the host CPU is used whenever KVM works)')
    .option('--vm-cpu-amount <f>', 'accepted, ignored (OpenNebula CPU share)')
    .option('--vm-template-file <file>', 'accepted, ignored (no OpenNebula template)');
}

export interface RunnableValues extends CloudOptionValues {
  key?: string;
  type?: string;
  listTypes?: boolean;
  listType?: boolean;
  cpu?: string;
  ram?: string;
  swap?: string;
  contextFile?: string;
  context?: string;
  contextMethod?: string;
  cloudInit?: string;
  vmDisksBus?: string;
  vmNetworkModel?: string;
  vncPort?: string;
  vncListen?: string;
}

/** -l/--list-types: prints the type table (the selected type starred) and says so; warns about bad [instance_types] lines. */
export function listTypesIfAsked(ctx: Context, o: RunnableValues): boolean {
  const types = instanceTypes(ctx.config.sectionValues('instance_types'));
  for (const name of types.ignored) printWarning(ctx.output, `[instance_types] ${name} is not "cpu, ram, swap": ignored`);
  if (!o.listTypes && !o.listType) return false;
  ctx.output.out(formatInstanceTypes(types.types, o.type ?? DEFAULT_INSTANCE_TYPE));
  return true;
}

/** What the Runnable options make of a run request: the figures, the context, the bus, the card and VNC. */
export type RunnablePart = Pick<RunInstancesRequest, 'type' | 'cpu' | 'ramMiB' | 'swapMiB' | 'sshKeys' | 'userData' | 'contextMethod' | 'context' | 'diskBus' | 'networkModel' | 'vncPort' | 'vncListen'>;

export function runnableRequest(ctx: Context, o: RunnableValues): RunnablePart {
  const types = instanceTypes(ctx.config.sectionValues('instance_types'));
  const type = resolveInstanceType(types.types, o.type ?? DEFAULT_INSTANCE_TYPE, {
    ...(o.cpu !== undefined ? { cpu: whole(o.cpu, '--cpu', 1) } : {}),
    ...(o.ram !== undefined ? { ramMiB: whole(o.ram, '--ram', 16) } : {}),
    ...(o.swap !== undefined ? { swapMiB: whole(o.swap, '--swap', 0) } : {}),
  });
  return {
    type: o.type ?? DEFAULT_INSTANCE_TYPE, cpu: type.cpu, ramMiB: type.ramMiB, swapMiB: type.swapMiB, ...contextOf(ctx, o),
    ...(o.vmDisksBus ? { diskBus: bus(o.vmDisksBus) } : {}), ...(o.vmNetworkModel ? { networkModel: networkModelOf(o.vmNetworkModel, '--vm-network-model') } : {}),
    ...(o.vncPort !== undefined ? { vncPort: vncPort(o.vncPort) } : {}), ...(o.vncListen !== undefined ? { vncListen: o.vncListen } : {}),
  };
}

/** The Marketplace of the availability check: --marketplace-endpoint when configured, else the cloud's own. */
export function marketplaceFor(ctx: Context, o: CloudOptionValues, endpoint: string): string {
  return ctx.config.origin(MARKETPLACE_ENDPOINT, o.marketplaceEndpoint) === 'default' ? endpoint : ctx.setting(MARKETPLACE_ENDPOINT, o.marketplaceEndpoint) as string;
}

/** The box and first line StratusLab printed before submitting (§1.1). */
export function printStarting(ctx: Context, count: number): void {
  printAction(ctx.output, 'Starting machine(s)');
  printStep(ctx.output, `Starting ${count} machine${count > 1 ? 's' : ''}`);
}

/** Each started VM's lines (§1.1), or `id, ip` lines with -q. */
export function printStarted(ctx: Context, started: InstanceInfo[], quiet: boolean): void {
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
function contextOf(ctx: Context, o: RunnableValues): Pick<RunInstancesRequest, 'sshKeys' | 'userData' | 'contextMethod' | 'context'> {
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
function keyFile(ctx: Context, o: RunnableValues): string {
  const path = publicKeyPath(ctx, o.key);
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

/** A whole number of at least `min` from an option's text; `what` names the option in the error. */
export function whole(text: string, what: string, min: number): number {
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
