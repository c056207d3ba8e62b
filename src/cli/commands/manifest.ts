import { StratusError } from '../../domain/errors.js';
import { readEntry } from '../../metadata/entry/entry.js';
import type { Entry } from '../../metadata/entry/entry.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { fetchEntries, marketplaceOption, marketplaceUrl } from '../marketplace.js';

/** Element names as StratusLab normalised them: lower case, dashes removed. */
function value(e: Entry, element: string): string | string[] | undefined {
  const checksum = e.checksums.find((c) => c.algorithm.toLowerCase().replace(/-/g, '') === element);
  if (checksum) return checksum.value;
  const table: Record<string, string | string[] | number | undefined> = {
    identifier: e.identifier, bytes: e.bytes, location: e.locations[0], locations: e.locations,
    format: e.format, compression: e.compression, os: e.os, osversion: e.osVersion, osarch: e.osArch,
    version: e.version, serialnumber: e.serialNumber, type: e.type, kind: e.kind, title: e.title,
    alternative: e.alternative, tag: e.alternative, description: e.description, creator: e.creator,
    publisher: e.publisher, created: e.created, valid: e.valid, deprecated: e.deprecated,
    hypervisor: e.hypervisor, disksbus: e.disksBus, email: e.endorsement.email, endorser: e.endorsement.email,
    endorsed: e.endorsement.created, subject: e.endorsement.subject, issuer: e.endorsement.issuers[0],
    inboundport: e.inboundPorts.map(String), inboundports: e.inboundPorts.map(String),
    outboundport: e.outboundPorts.map(String), outboundports: e.outboundPorts.map(String),
  };
  const v = table[element];
  return typeof v === 'number' ? String(v) : v;
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
