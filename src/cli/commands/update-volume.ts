import { StratusError } from '../../domain/errors.js';
import { requireUuid } from '../../domain/volume.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { addPdiskOptions, addVolumeFieldOptions, pdiskClient, volumeFieldsFrom } from '../pdisk.js';
import type { PdiskOptionValues } from '../pdisk.js';

type Options = PdiskOptionValues & { tag?: string; public?: boolean; private?: boolean } & Record<string, unknown>;

export default async function main(argv: string[]): Promise<number> {
  const program = addPdiskOptions(newProgram('stratus-update-volume', 'Change the tag, visibility or type of one of your persistent disks.'))
    .argument('<uuid>', 'the disk to change');
  addVolumeFieldOptions(program, 'new label (at most 40 characters)');
  program.action(async (uuid: string, o: Options) => {
    const ctx = contextOf(program);
    const id = requireUuid(uuid);
    const fields = volumeFieldsFrom(o);
    if (Object.keys(fields).length === 0) {
      throw new StratusError('USAGE', 'nothing to change', { hint: 'Give -t/--tag, --public or --private, or a type flag such as --machine-image-origin.' });
    }
    await (await pdiskClient(ctx, o)).update(id, fields);
  });
  return runProgram(program, argv);
}
