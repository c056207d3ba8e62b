import { readEntry } from '../../metadata/entry/entry.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { fetchEntries, marketplaceOption, marketplaceUrl } from '../marketplace.js';
import { fullRecord } from '../records.js';

export default async function main(argv: string[]): Promise<number> {
  const program = marketplaceOption(newProgram('stratus-show-image', 'Show the full record of an image: each endorser\'s latest valid entry for that identifier (or the entry at a URL).'))
    .argument('<image-id>', 'Marketplace identifier, or an entry URL')
    .option('--status <s>', 'valid, expired, deprecated or all', 'valid')
    .option('--json', 'print JSON, including the signature verdict')
    .action(async (id: string, o: { marketplaceEndpoint?: string; status: string; json?: boolean }) => {
      const ctx = contextOf(program);
      const client = new MarketplaceClient(marketplaceUrl(ctx, o));
      const entries = (await fetchEntries(client, id, { status: o.status })).map((d) => readEntry(d));
      if (o.json) {
        const details = await Promise.all(entries.map((e) => client.entryDetail(e.identifier, e.endorsement.email ?? '', e.endorsement.created ?? '')));
        ctx.output.out(JSON.stringify(details, null, 2));
        return;
      }
      for (const e of entries) ctx.output.out(fullRecord(e).join('\n'));
    });
  return runProgram(program, argv);
}
