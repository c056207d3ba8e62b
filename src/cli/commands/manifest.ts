import { StratusError } from '../../domain/errors.js';
import { ENTRY_FIELDS, isValueField } from '../../domain/entry-fields.js';
import { readEntry } from '../../metadata/entry/entry.js';
import type { Entry } from '../../metadata/entry/entry.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { fetchEntries, marketplaceOption, marketplaceUrl } from '../marketplace.js';

/** An element name as StratusLab normalised it: lower case, dashes removed. */
function normalise(name: string): string {
  return name.toLowerCase().replace(/-/g, '');
}

/**
 * The value of `element` (normalised): a field of the entry schema by its element name (a
 * many-valued one also by its plural), a checksum by its algorithm, or one of StratusLab's
 * other names for the endorsement and the tag. `location` is the first location only.
 */
function value(e: Entry, element: string): string | string[] | undefined {
  const checksum = e.checksums.find((c) => normalise(c.algorithm) === element);
  if (checksum) return checksum.value;
  const named: Record<string, string | undefined> = {
    location: e.locations[0], tag: e.alternative, email: e.endorsement.email, endorser: e.endorsement.email,
    endorsed: e.endorsement.created, subject: e.endorsement.subject, issuer: e.endorsement.issuers[0],
  };
  if (element in named) return named[element];
  const values = e as unknown as Record<string, unknown>;
  const field = ENTRY_FIELDS.find((f) => isValueField(f) && [normalise(f.element), `${normalise(f.element)}s`, normalise(f.name)].includes(element));
  const v = field ? values[field.name] : undefined;
  return Array.isArray(v) ? v.map(String) : v === undefined ? undefined : String(v);
}

export default async function main(argv: string[]): Promise<number> {
  const program = marketplaceOption(newProgram('stratus-manifest', 'Print one value from an image\'s metadata (e.g. -e location, -e sha1, -e bytes).'))
    .argument('<id-or-url>', 'Marketplace identifier or entry URL')
    .requiredOption('-e, --element <name>', 'element: location, locations, sha1, md5, sha256, sha512, bytes, format, compression, os, os-version, os-arch, version, title, …')
    .action(async (idOrUrl: string, o: { marketplaceEndpoint?: string; element: string }) => {
      const ctx = contextOf(program);
      const client = new MarketplaceClient(marketplaceUrl(ctx, o));
      const entry = (await fetchEntries(client, idOrUrl)).map((d) => readEntry(d))[0];
      if (!entry) throw new StratusError('NO_MATCH', `no metadata entry found for ${idOrUrl}`);
      const element = o.element.toLowerCase().replace(/-/g, '');
      const v = value(entry, element);
      if (v === undefined) throw new StratusError('USAGE', `the entry has no element '${o.element}'`, { hint: 'Try location, locations, sha1, bytes, format, compression or os.' });
      ctx.output.out(Array.isArray(v) ? v.join('\n') : v);
    });
  return runProgram(program, argv);
}
