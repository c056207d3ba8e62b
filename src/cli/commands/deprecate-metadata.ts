import { StratusError } from '../../domain/errors.js';
import { isIdentifier } from '../../domain/identifier.js';
import { parseStrictUtc } from '../../domain/dates.js';
import type { Document } from '@xmldom/xmldom';
import { NS, childrenNamed, descendantsNamed } from '../../metadata/xml/dom.js';
import { descriptionOf, readEntry } from '../../metadata/entry/entry.js';
import { serializeDocument } from '../../metadata/xml/serialize.js';
import { signDocument } from '../../metadata/dsig/sign.js';
import type { SigningAlgorithmName } from '../../metadata/dsig/algorithms.js';
import { MarketplaceClient } from '../../client/marketplace-client.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { addSigningOptions, signingCredentials } from '../credentials.js';
import type { SigningOptionValues } from '../credentials.js';
import { marketplaceOption, marketplaceUrl, splitEntries } from '../marketplace.js';

export default async function main(argv: string[]): Promise<number> {
  const program = addSigningOptions(marketplaceOption(newProgram('stratus-deprecate-metadata',
    'Deprecate an image: fetch your latest entry for it, mark it deprecated with a reason, re-sign and upload it. Nothing is deleted: the deprecated entry becomes the newest.')))
    .argument('<image-id>', 'Marketplace identifier of the image')
    .requiredOption('--email <addr>', 'your endorser e-mail (whose entry to deprecate)')
    .option('--created <date>', 'endorsement date of the entry to deprecate (default: your latest)')
    .option('--reason <text>', 'why it is deprecated', 'This image has been deprecated')
    .action(async (id: string, o: SigningOptionValues & { marketplaceEndpoint?: string; email: string; created?: string; reason: string }) => {
      const ctx = contextOf(program);
      if (!isIdentifier(id)) throw new StratusError('IDENTIFIER_INVALID', `invalid identifier: '${id}'`);
      const credentials = await signingCredentials(ctx, o);
      const endpoint = marketplaceUrl(ctx, o);
      const client = new MarketplaceClient(endpoint);
      const latestXml = await client.listXml({ status: 'all' }, [id, o.email]);
      const latest = latestXml === undefined ? undefined : splitEntries(latestXml)[0];
      const xml = o.created ? await client.entryXml(id, o.email, o.created) : latestXml;
      const doc = xml === undefined ? undefined : splitEntries(xml)[0];
      if (!doc || !latest) throw new StratusError('NO_MATCH', `no metadata entry for ${id} endorsed by ${o.email}`);

      for (const sig of descendantsNamed(doc, NS.ds, 'Signature')) sig.parentNode?.removeChild(sig);
      const desc = descriptionOf(doc);
      for (const old of childrenNamed(desc, NS.slterms, 'deprecated')) desc.removeChild(old);
      const deprecated = doc.createElementNS(NS.slterms, 'slterms:deprecated');
      deprecated.appendChild(doc.createTextNode(o.reason));
      desc.appendChild(deprecated);
      desc.appendChild(doc.createTextNode('\n'));
      signDocument(doc, { credentials, algorithm: o.algorithm as SigningAlgorithmName, email: o.email, now: endorsementTime(latest) });
      const entry = readEntry(doc);
      await client.upload(serializeDocument(doc));
      ctx.output.out(`${endpoint}/metadata/${entry.identifier}/${entry.endorsement.email ?? ''}/${entry.endorsement.created ?? ''}`);
    });
  return runProgram(program, argv);
}

/**
 * The new endorsement must be newer than the latest one, and dates have whole seconds: a
 * deprecation right after an upload (scripts do exactly this) would otherwise carry the same
 * date and be refused as a duplicate. So: max(now, latest + 1 s).
 */
function endorsementTime(latest: Document): Date {
  const created = readEntry(latest).endorsement.created;
  const after = created ? parseStrictUtc(created) : undefined;
  const now = new Date();
  return after && after.getTime() + 1000 > now.getTime() ? new Date(after.getTime() + 1000) : now;
}
