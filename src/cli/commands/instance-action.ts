import type { CloudClient } from '../../client/cloud-client.js';
import { contextOf, newProgram, runProgram } from '../program.js';
import { printDetail } from '../output.js';
import { addCloudOptions, cloudClient, vmIds } from '../cloud.js';
import type { CloudOptionValues } from '../cloud.js';

/**
 * stratus-kill-instance and stratus-shutdown-instance (reference §1.1): silent at INFO; with -v,
 * `Sending "Kill" request for instance N.` per VM and `"Kill" 2 VMs: 1, 2` at the end.
 */
export function instanceAction(name: string, description: string, verb: string, act: (client: CloudClient, id: string) => Promise<unknown>): (argv: string[]) => Promise<number> {
  return (argv) => {
    const program = addCloudOptions(newProgram(name, description))
      .argument('[vm-id...]', 'the VMs')
      .option('-i, --input <file>', 'read vm IDs from this file, one per line')
      .action(async (args: string[], o: CloudOptionValues & { input?: string }) => {
        const ctx = contextOf(program);
        const ids = vmIds(args, o.input);
        const client = await cloudClient(ctx, o);
        for (const id of ids) {
          printDetail(ctx.output, `Sending "${verb}" request for instance ${id}.`);
          await act(client, id);
        }
        printDetail(ctx.output, `"${verb}" ${ids.length} VMs: ${ids.join(', ')}`);
      });
    return runProgram(program, argv);
  };
}
