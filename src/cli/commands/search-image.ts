import { StratusError } from '../../domain/errors.js';
import { readEntry, searchableText } from '../../metadata/entry/entry.js';
import type { Entry } from '../../metadata/entry/entry.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { marketplaceCredentials, marketplaceOption, marketplaceUrl, splitEntries } from '../marketplace.js';
import { fullRecord } from '../records.js';

interface SearchOptions {
  marketplaceEndpoint?: string;
  creator?: string;
  email?: string;
  os?: string;
  description?: string;
  description_regexp?: string;
  arch?: string;
  text?: string;
  status: string;
  json?: boolean;
}

export default async function main(argv: string[]): Promise<number> {
  const program = marketplaceOption(newProgram('stratus-search-image',
    'Search the Marketplace. Every criterion given must match; each match is reported, then the full record.'))
    .option('--creator <name>', 'dcterms:creator equals this')
    .option('-e, --email <addr>', 'endorser e-mail (e.g. hudson.builder@stratuslab.eu)')
    .option('--endorser <addr>', 'same as --email')
    .option('--os <name>', 'slterms:os (case-insensitive)')
    .option('-d, --description <text>', 'dcterms:description equals this')
    .option('--description_regexp <re>', 'dcterms:description matches this regular expression')
    .option('-a, --arch <arch>', 'slterms:os-arch')
    .option('-t, --text <words>', 'free text: every word must occur in some field')
    .option('--status <s>', 'valid, expired, deprecated or all', 'valid')
    .option('--json', 'print JSON')
    .action(async (o: SearchOptions & { endorser?: string }) => {
      const ctx = contextOf(program);
      const email = o.email ?? o.endorser;
      const criteria: Array<[string, (e: Entry) => boolean]> = [];
      if (o.creator !== undefined) criteria.push(['CREATOR', (e) => e.creator === o.creator]);
      if (email !== undefined) criteria.push(['EMAIL', (e) => e.endorsement.email === email]);
      if (o.os !== undefined) criteria.push(['OS', (e) => (e.os ?? '').toLowerCase() === o.os?.toLowerCase()]);
      if (o.description !== undefined) criteria.push(['DESCRIPTION', (e) => e.description === o.description]);
      if (o.description_regexp !== undefined) {
        let re: RegExp;
        try {
          re = new RegExp(o.description_regexp);
        } catch (err) {
          throw new StratusError('USAGE', `--description_regexp is not a valid regular expression: ${(err as Error).message}`);
        }
        criteria.push(['DESCRIPTION REGEXP', (e) => re.test(e.description ?? '')]);
      }
      if (o.arch !== undefined) criteria.push(['ARCH', (e) => e.osArch === o.arch]);
      if (o.text !== undefined) {
        const terms = o.text.toLowerCase().split(/\s+/).filter(Boolean);
        criteria.push(['TEXT', (e) => {
          const hay = searchableText(e);
          return terms.every((t) => hay.includes(t));
        }]);
      }

      const endpoint = marketplaceUrl(ctx, o);
      const client = new MarketplaceClient(endpoint, marketplaceCredentials(ctx, endpoint, o));
      // The server narrows by endorser, OS, architecture and text; the rest is checked here.
      const xml = await client.listXml({ status: o.status, endorser: email, os: o.os, 'os-arch': o.arch, q: o.text });
      const entries = xml ? splitEntries(xml).map((d) => readEntry(d)) : [];
      const matches = entries.filter((e) => criteria.every(([, test]) => test(e)));
      if (o.json) {
        ctx.output.out(JSON.stringify(matches, null, 2));
        return;
      }
      for (const e of matches) {
        for (const [name] of criteria) ctx.output.out(`${name} FOUND`);
        ctx.output.out(`${criteria.length} critera match your search for this image`);
        ctx.output.out(fullRecord(e).join('\n'));
      }
      if (matches.length === 0) ctx.output.err('No image matches your search');
    });
  return runProgram(program, argv);
}
