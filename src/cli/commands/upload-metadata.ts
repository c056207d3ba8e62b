import { readFileSync } from 'node:fs';
import { parseXml } from '../../metadata/xml/parse.js';
import { readEntry } from '../../metadata/entry/entry.js';
import { requireFile } from '../../platform/files.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { marketplaceCredentials, marketplaceOption, marketplaceUrl } from '../marketplace.js';

export default async function main(argv: string[]): Promise<number> {
  const program = marketplaceOption(newProgram('stratus-upload-metadata', 'Upload a signed metadata entry to the Marketplace and print its URL.'))
    .argument('<metadata-file>', 'signed metadata file')
    .action(async (file: string, o: { marketplaceEndpoint?: string }) => {
      const ctx = contextOf(program);
      requireFile(file, 'metadata file');
      const bytes = readFileSync(file);
      const entry = readEntry(parseXml(bytes, { source: file }));
      const endpoint = marketplaceUrl(ctx, o);
      await new MarketplaceClient(endpoint, marketplaceCredentials(ctx, endpoint, o)).upload(bytes);
      ctx.output.out(`${endpoint}/metadata/${entry.identifier}/${entry.endorsement.email ?? ''}/${entry.endorsement.created ?? ''}`);
    });
  return runProgram(program, argv);
}
