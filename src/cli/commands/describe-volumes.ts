import { StratusError } from '../../domain/errors.js';
import { requireUuid } from '../../domain/volume.js';
import type { VolumeInfo } from '../../domain/volume.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { addPdiskOptions, pdiskClient } from '../pdisk.js';
import type { PdiskOptionValues } from '../pdisk.js';

/** The keys printed under `:: DISK <uuid>`, in the order StratusLab's client showed them (§1.5). */
const SHOWN = ['count', 'tag', 'owner', 'identifier', 'size'] as const;
/** Every field a volume has, so a misspelt filter key is an error instead of an empty listing. */
const FIELDS = ['uuid', 'tag', 'count', 'owner', 'identifier', 'size', 'type', 'visibility', 'quarantine', 'created', 'bytes', 'format', 'origin'];

type Filters = Map<string, RegExp[]>;

export default async function main(argv: string[]): Promise<number> {
  const program = addPdiskOptions(newProgram('stratus-describe-volumes', 'Describe the persistent disks you can see, all of them or those with the given UUIDs.'))
    .argument('[uuid...]', 'only these disks')
    .option('-f, --filter <name:regex>', 'keep disks whose field <name> matches the regular expression (searched anywhere in the value); repeatable, all must match', collect, [])
    .option('--json', 'print the disks as a JSON array')
    .action(async (uuids: string[], o: PdiskOptionValues & { filter: string[]; json?: boolean }) => {
      const ctx = contextOf(program);
      const filters = parseFilters(o.filter);
      const wanted = new Set(uuids.map(requireUuid));
      const client = await pdiskClient(ctx, o);
      const disks = (await client.list()).filter((d) => (wanted.size === 0 || wanted.has(d.uuid)) && matches(d, filters));
      if (o.json) {
        ctx.output.out(JSON.stringify(disks, null, 2));
        return;
      }
      if (disks.length === 0) {
        ctx.output.out('No disk to show');
        return;
      }
      for (const d of disks) ctx.output.out(describe(d));
    });
  return runProgram(program, argv);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `name:regex` pairs; several regexes for one name must all match (StratusLab's semantics). */
function parseFilters(specs: string[]): Filters {
  const filters: Filters = new Map();
  for (const spec of specs) {
    const colon = spec.indexOf(':');
    if (colon <= 0) throw new StratusError('USAGE', `invalid filter '${spec}'`, { hint: 'Filters look like name:regex, e.g. -f tag:^web or -f owner:alice.' });
    const name = spec.slice(0, colon);
    if (!FIELDS.includes(name)) throw new StratusError('USAGE', `unknown filter field '${name}'`, { hint: `Fields are ${FIELDS.join(', ')}.` });
    let re: RegExp;
    try {
      re = new RegExp(spec.slice(colon + 1));
    } catch (e) {
      throw new StratusError('USAGE', `invalid regular expression in filter '${spec}': ${(e as Error).message}`);
    }
    filters.set(name, [...(filters.get(name) ?? []), re]);
  }
  return filters;
}

/** Like StratusLab's _filterDisks: an empty or missing field never matches. */
function matches(disk: VolumeInfo, filters: Filters): boolean {
  for (const [name, res] of filters) {
    const raw = (disk as unknown as Record<string, unknown>)[name];
    if (raw === undefined || raw === null || raw === '') return false;
    const value = String(raw);
    if (!res.every((re) => re.test(value))) return false;
  }
  return true;
}

function describe(d: VolumeInfo): string {
  const lines = [`:: DISK ${d.uuid}`, ...SHOWN.map((k) => `\t${k}: ${d[k]}`)];
  if (d.quarantine) lines.push(`\tquarantine: ${d.quarantine}`);
  return lines.join('\n');
}
