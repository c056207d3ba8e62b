import { existsSync } from 'node:fs';
import { StratusError } from '../../domain/errors.js';
import { isIdentifier } from '../../domain/identifier.js';
import { requireUuid } from '../../domain/volume.js';
import { saveVmName } from '../../domain/instance-wire.js';
import type { RunInstancesRequest } from '../../domain/instance-wire.js';
import { sshBanner } from '../../platform/probe.js';
import { LayerClient } from '../../client/layer-client.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { readEntry } from '../../metadata/entry/entry.js';
import { createImageParts } from '../../images/index.js';
import type { CreateEvents, Installer } from '../../images/index.js';
import { contextOf, newProgram, onInterrupt, runProgram } from '../program.js';
import type { Context } from '../program.js';
import { printAction, printDetail, printInfo, printStep, printWarning } from '../output.js';
import { cloudUrl, privateKeyPath } from '../cloud.js';
import { pdiskCredentials } from '../pdisk.js';
import { checkImageAvailability } from '../image-check.js';
import { fetchEntries, marketplaceCredentials } from '../marketplace.js';
import { addRunnableOptions, listTypesIfAsked, marketplaceFor, printStarted, printStarting, runnableRequest } from '../runnable.js';
import type { RunnableValues } from '../runnable.js';

interface CreateOptions extends RunnableValues {
  title?: string;
  comment?: string;
  author?: string;
  authorEmail?: string;
  scripts?: string;
  packages?: string;
  extraOsRepos?: string;
  os?: string;
  installer?: string;
  imageVersion?: string;
  marketplaceEndpointNewimage?: string;
  shutdown: boolean;
  upload: boolean;
  cache: boolean;
  bootedBase: boolean;
  vmStartTimeout: string;
  vmPingTimeout: string;
  persistentDisk?: string;
}

/**
 * `stratus-create-image [options] base-image-id` (reference §1.2, §3): a --save VM of the base
 * image, the packages and scripts run in it over SSH, then its shutdown, after which the
 * cloud's Epilog saves the disk as a new image and mails its identifier.
 */
export default async function main(argv: string[]): Promise<number> {
  const program = addRunnableOptions(newProgram('stratus-create-image', 'Create a new image from a base image: start it, install packages, run scripts, and save it at shutdown (the new image\'s identifier is mailed to --author-email).'))
    .argument('[base-image-id]', 'the Marketplace ID of the image to start from')
    .option('--title <text>', 'required: the new image\'s title (and its volume\'s tag)')
    .option('--comment <text>', 'required: the new image\'s description')
    .option('--author <name>', 'required: the new image\'s author')
    .option('--author-email <email>', 'required: where the new image\'s identifier is mailed')
    .option('-s, --scripts <files>', 'scripts to run as root, comma-separated, each "PATH [ARG…]": copied to /tmp/<name> and run over ssh, in order')
    .option('-a, --packages <names>', 'packages to install, comma-separated')
    .option('--extra-os-repos <repos>', 'repositories to add before installing, comma-separated: URL (yum) or URL SUITE COMPONENT… (apt)')
    .option('--os <name>', 'the base image\'s OS (default: its entry\'s slterms:os, lower-cased)')
    .option('--installer <name>', 'apt, yum or dnf (default: from the OS: apt for debian and ubuntu, yum for the RPM family, which means dnf on a guest that has it)')
    .option('--image-version <version>', 'the new image\'s version (default: the base image\'s with its minor part incremented, 1.4 → 1.5)')
    .option('--marketplace-endpoint-newimage <url>', 'the Marketplace the new image\'s draft entry goes to (default: the cloud\'s)')
    .option('--no-shutdown', 'leave the VM running at the end and print its address; stratus-shutdown-instance then saves it')
    .option('--no-upload', 'with --no-shutdown: the VM saves nothing at shutdown (no new image); without it, does nothing')
    .option('--vm-start-timeout <s>', 'seconds the VM may take to start', '600')
    .option('--vm-ping-timeout <s>', 'seconds its SSH server may take to answer', '300')
    .option('--persistent-disk <uuid>', 'attach this pdisk volume to the VM (yours read-write, a PUBLIC one read-only)')
    .option('--no-cache', 'neither use nor keep the step cache (the cloud keeps a layer of the disk after each step, so a rerun starts after the last unchanged step)')
    .option('--no-booted-base', 'boot the base image even where the cloud has it booted and saved running (its booted base, which a VM resumes in seconds)')
    // StratusLab v1's "bundle in the VM" options, accepted by its final client and unused there too.
    .option('-n, --name <name>', 'accepted, unused (left over from StratusLab v1)')
    .option('--name-version <version>', 'accepted, unused (left over from StratusLab v1)')
    .option('--image-group <group>', 'accepted, unused (left over from StratusLab v1)')
    .option('--exclude <paths>', 'accepted, unused (left over from StratusLab v1, whose default exclusions were /tmp/*, /etc/ssh/ssh_host_*, /root/.ssh/{authorized_keys,known_hosts})')
    .action(async (baseId: string | undefined, o: CreateOptions) => {
      const ctx = contextOf(program);
      if (listTypesIfAsked(ctx, o)) return;
      const parts = await createImageParts();
      // Everything the user gave is checked before anything is asked of the cloud.
      parts.checkRequired(o);
      if (!baseId) throw new StratusError('USAGE', 'Missing the base image ID', { hint: 'Give the Marketplace ID of the image to start from as the last argument.' });
      if (!isIdentifier(baseId)) throw new StratusError('IDENTIFIER_INVALID', `The base image must be a Marketplace ID, not ${baseId}`);
      const packages = parts.parsePackages(o.packages);
      const repos = parts.parseRepos(o.extraOsRepos);
      if (o.installer !== undefined) parts.installerFor('', o.installer);
      const scripts = parts.readScripts(o.scripts);
      const startTimeoutS = parts.seconds(o.vmStartTimeout, '--vm-start-timeout');
      const pingTimeoutS = parts.seconds(o.vmPingTimeout, '--vm-ping-timeout');
      if (!o.upload && o.shutdown) printWarning(ctx.output, '--no-upload does nothing without --no-shutdown: the image is saved at shutdown');
      const saves = o.upload || o.shutdown;
      const runnable = runnableRequest(ctx, o);
      const key = privateKeyPath(ctx, undefined, o.key);
      if (!existsSync(key)) {
        throw new StratusError('FILE_NOT_FOUND', `SSH private key ${key}: no such file`, {
          hint: 'stratus-create-image logs in with the private key beside the public key of -k/--key (the same path without .pub).',
        });
      }
      const persistentDisk = o.persistentDisk !== undefined ? requireUuid(o.persistentDisk) : undefined;
      const endpoint = cloudUrl(ctx, o);
      printDetail(ctx.output, `Accessing compute service at: ${endpoint}`);

      printAction(ctx.output, 'Starting image creation');
      printStep(ctx.output, 'Checking that base image exists');
      const marketplace = marketplaceFor(ctx, o, endpoint);
      const mpCredentials = marketplaceCredentials(ctx, marketplace, o);
      await checkImageAvailability(marketplace, baseId, mpCredentials);
      printStep(ctx.output, 'Retrieving image manifest');
      const entries = (await fetchEntries(new MarketplaceClient(marketplace, mpCredentials), baseId)).map((d) => readEntry(d));
      const entry = entries.find((e) => (e.locations ?? []).length > 0) ?? entries[0];
      const os = (o.os ?? entry?.os ?? '').trim().toLowerCase();
      let installer: Installer | undefined;
      if (packages.length > 0 || repos.length > 0) {
        installer = parts.requireInstaller(os, o.installer);
        parts.repoFiles(installer, repos);
      }
      printDetail(ctx.output, `OS: ${os || '(none)'}; installer: ${installer ?? parts.installerFor(os, o.installer) ?? 'none'}`);
      const save = parts.saveRequestOf(o, entry?.version);

      const client = new LayerClient(endpoint, await pdiskCredentials(ctx, o, endpoint));
      const request: RunInstancesRequest = {
        ...runnable, image: baseId, count: 1, name: saveVmName(new Date()),
        ...(saves ? { save } : {}), ...(persistentDisk ? { persistentDisk } : {}),
      };
      const quiet = ctx.output.level < 0;
      await parts.createImage({
        baseId, scripts, authorEmail: save.authorEmail, saves, shutdown: o.shutdown, startTimeoutS, pingTimeoutS,
        ...(installer ? { packages: { installer, packages, repos } } : {}),
      }, {
        start: async (layer) => {
          // §3 step 5: the runner has the availability check off (it was done above).
          printWarning(ctx.output, 'Image availability check is disabled.');
          if (!quiet) printStarting(ctx, 1);
          const [vm] = await client.runInstances({ ...request, ...(layer ? { layer } : o.bootedBase ? { booted: true } : {}) });
          if (!vm) throw new StratusError('INSTANCE_FAILED', 'the cloud started no VM');
          printStarted(ctx, [vm], quiet);
          return vm;
        },
        instance: (id) => client.instance(id),
        kill: (id) => client.killInstance(id),
        shutdown: (id) => client.shutdownInstance(id),
        ...(o.cache ? { layers: client } : {}),
        probe: (vm, ms) => sshBanner(vm.address ?? '', 22, ms),
        remote: (vm) => new parts.SshRemote({ host: vm.address ?? '', key }, (m) => printDetail(ctx.output, m)),
        onInterrupt,
        events: events(ctx),
      });
    });
  return runProgram(program, argv);
}

/** The steps' events, printed the StratusLab way: dots on a line of their own, scripts' output as it comes. */
function events(ctx: Context): CreateEvents {
  const quiet = ctx.output.level < 0;
  return {
    action: (m) => printAction(ctx.output, m),
    step: (m) => printStep(ctx.output, m),
    info: (m) => printInfo(ctx.output, m),
    detail: (m) => printDetail(ctx.output, m),
    warn: (m) => printWarning(ctx.output, m),
    dot: () => { if (!quiet) process.stdout.write('.'); },
    dotsDone: () => { if (!quiet) process.stdout.write('\n'); },
    output: (d) => { if (!quiet) process.stdout.write(d); },
  };
}
