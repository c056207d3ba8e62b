import { MarketplaceClient } from '../../client/marketplace-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { marketplaceOption, marketplaceUrl } from '../marketplace.js';
import { listRecord } from '../records.js';

export default async function main(argv: string[]): Promise<number> {
  const program = marketplaceOption(newProgram('stratus-list-images', 'List the images in the Marketplace (latest valid entry of each image and endorser by default).'))
    .option('--status <s>', 'valid, expired, deprecated or all', 'valid')
    .option('--endorser <email>', 'only entries of this endorser')
    .option('--os <name>', 'only this OS')
    .option('--json', 'print JSON')
    .action(async (o: { marketplaceEndpoint?: string; status: string; endorser?: string; os?: string; json?: boolean }) => {
      const ctx = contextOf(program);
      const client = new MarketplaceClient(marketplaceUrl(ctx, o));
      const entries = await client.listAll({ status: o.status, endorser: o.endorser, os: o.os });
      if (o.json) {
        ctx.output.out(JSON.stringify(entries, null, 2));
        return;
      }
      for (const e of entries) ctx.output.out(listRecord(e).join('\n'));
    });
  return runProgram(program, argv);
}
