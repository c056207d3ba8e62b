import { Option } from 'commander';
import { requireSize, requireTag } from '../../domain/volume.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { addPdiskOptions, pdiskClient } from '../pdisk.js';
import type { PdiskOptionValues } from '../pdisk.js';

export default async function main(argv: string[]): Promise<number> {
  const program = addPdiskOptions(newProgram('stratus-create-volume', 'Create an empty persistent disk and print its UUID.'))
    .requiredOption('-s, --size <GiB>', 'size in GiB (1-1024)')
    .option('-t, --tag <name>', 'a label for the disk (at most 40 characters)')
    .addOption(new Option('--public', 'anyone may see and use the disk').conflicts('private'))
    .addOption(new Option('--private', 'only you (and admins) may see the disk; the default'))
    .action(async (o: PdiskOptionValues & { size: string; tag?: string; public?: boolean }) => {
      const ctx = contextOf(program);
      // Checked before connecting, so a typo costs no password prompt.
      const size = requireSize(o.size);
      const tag = requireTag(o.tag ?? '');
      const client = await pdiskClient(ctx, o);
      const disk = await client.create({ size, tag, visibility: o.public ? 'PUBLIC' : 'PRIVATE' });
      ctx.output.out(`DISK ${disk.uuid}`);
    });
  return runProgram(program, argv);
}
