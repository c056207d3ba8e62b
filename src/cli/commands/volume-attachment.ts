import type { CloudClient } from '../../client/cloud-client.js';
import { StratusError } from '../../domain/errors.js';
import type { VolumeAttachment } from '../../domain/instance-wire.js';
import { requireUuid } from '../../domain/volume.js';
import { contextOf, newProgram, runProgram } from '../program.js';
import { printErrorLine } from '../output.js';
import { addCloudOptions, cloudClient } from '../cloud.js';
import type { CloudOptionValues } from '../cloud.js';

interface Options extends CloudOptionValues {
  instance?: string;
  pdiskEndpoint?: string;
}

/** Failures of the VM or the server, not of one disk: every disk would fail alike, so the command stops. */
const WHOLE_COMMAND = ['AUTH_REQUIRED', 'RATE_LIMITED', 'SERVER_BUSY', 'MARKETPLACE_UNREACHABLE', 'INSTANCE_NOT_FOUND', 'INSTANCE_STATE'] as const;

/**
 * stratus-attach-volume and stratus-detach-volume (reference §1.5): `-i VMID uuid …`, one line
 * per disk (`ATTACHED <uuid> in VM <vmid> on /dev/<target>`), and a disk that fails as
 * `  [ERROR] DISK <uuid>: <why>` while the others go on. The VM's own failures (`VM N is not in
 * running state`, a VM that is not the caller's) stop the command, as StratusLab checked the VM
 * before the disks. Any failed disk makes the exit status 1.
 */
export function volumeAttachmentCommand(spec: {
  name: string;
  description: string;
  verb: 'attach' | 'detach';
  act: (client: CloudClient, vm: string, uuid: string) => Promise<VolumeAttachment>;
  line: (a: VolumeAttachment, vm: string) => string;
}): (argv: string[]) => Promise<number> {
  return (argv) => {
    const program = addCloudOptions(newProgram(spec.name, spec.description))
      .argument('[uuid...]', `the volumes to ${spec.verb}`)
      .option('-i, --instance <vm-id>', `the VM to ${spec.verb} them ${spec.verb === 'attach' ? 'to' : 'from'}`)
      .option('--pdisk-endpoint <url>', 'the disk service, used when no cloud endpoint is set: one server serves both')
      .action(async (uuids: string[], o: Options) => {
        const ctx = contextOf(program);
        if (uuids.length === 0) throw new StratusError('USAGE', `Please provide at least one persistent disk UUID to ${spec.verb}`);
        const vm = o.instance?.trim();
        if (vm === undefined || !/^\d{1,15}$/.test(vm)) {
          throw new StratusError('USAGE', `Please provide a VM ID on which to ${spec.verb} disk`, {
            hint: `Give -i/--instance with the vm ID stratus-run-instance printed${vm === undefined ? '' : ` (not ${vm})`}.`,
          });
        }
        // Every UUID is checked before anything is done.
        const ids = uuids.map(requireUuid);
        const endpoint = ctx.setting({ key: 'endpoint' }, o.endpoint) ?? o.pdiskEndpoint;
        const client = await cloudClient(ctx, { ...o, ...(endpoint !== undefined ? { endpoint } : {}) });
        let failed = 0;
        for (const uuid of ids) {
          try {
            ctx.output.out(spec.line(await spec.act(client, vm, uuid), vm));
          } catch (e) {
            if (!(e instanceof StratusError) || (WHOLE_COMMAND as readonly string[]).includes(e.code)) throw e;
            printErrorLine(ctx.output, e.message.startsWith(`DISK ${uuid}:`) ? e.message : `DISK ${uuid}: ${e.message}`, e.hint);
            failed++;
          }
        }
        if (failed > 0) process.exitCode = 1;
      });
    return runProgram(program, argv);
  };
}
