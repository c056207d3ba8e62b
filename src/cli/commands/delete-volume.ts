import { StratusError } from '../../domain/errors.js';
import { requireUuid } from '../../domain/volume.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { addPdiskOptions, pdiskClient } from '../pdisk.js';
import type { PdiskOptionValues } from '../pdisk.js';
import { printErrorLine } from '../output.js';

export default async function main(argv: string[]): Promise<number> {
  const program = addPdiskOptions(newProgram('stratus-delete-volume', 'Delete persistent disks (yours, or any as an admin).'))
    .argument('<uuid...>', 'the disks to delete')
    .action(async (uuids: string[], o: PdiskOptionValues) => {
      const ctx = contextOf(program);
      // All UUIDs are checked before anything is deleted, as StratusLab did.
      const ids = uuids.map(requireUuid);
      const client = await pdiskClient(ctx, o);
      let failed = 0;
      for (const id of ids) {
        try {
          ctx.output.out(`DELETED ${await client.delete(id)}`);
        } catch (e) {
          // Wrong credentials or a dead server fail every disk alike: stop at the first.
          if (!(e instanceof StratusError) || e.code === 'AUTH_REQUIRED' || e.code === 'MARKETPLACE_UNREACHABLE') throw e;
          printErrorLine(ctx.output, e.message, e.hint);
          failed++;
        }
      }
      if (failed > 0) process.exitCode = 1;
    });
  return runProgram(program, argv);
}
