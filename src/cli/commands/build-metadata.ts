import { statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { StratusError } from '../../domain/errors.js';
import { BUILD_DIGESTS, DEFAULT_VALID_DAYS, buildEntryXml, entryFileName, newDraft } from '../../metadata/entry/build.js';
import { compressionOf, hashFile } from '../../platform/hashing.js';
import type { DigestName } from '../../platform/hashing.js';
import { progressBar } from '../../platform/progress.js';
import { requireFile, writeFileAtomic } from '../../platform/files.js';
import type { Command } from 'commander';
import { newProgram, runProgram, contextOf } from '../program.js';
import { addEntryFieldOptions } from '../entry-options.js';
import { printDetail, printWarning } from '../output.js';

export default async function main(argv: string[]): Promise<number> {
  const program: Command = newProgram('stratus-build-metadata', 'Build unsigned Marketplace metadata for an image file, reading it once to compute its size and checksums (over the decompressed content for .gz and .bz2).', { userConfig: false })
    .argument('<image>', 'image file (raw, qcow2, …; may end in .gz or .bz2)');
  // One option per field the template writes, from the entry schema (domain/entry-fields.ts).
  const fieldValues = addEntryFieldOptions(program);
  program
    .option('--compression <c>', 'dcterms:compression of the file at the location: gz, bz2 or none (default: from the file name)')
    .option('--valid-days <n>', 'days until dcterms:valid', String(DEFAULT_VALID_DAYS))
    .option('--md5 <hex>', 'use this MD5 instead of computing it')
    .option('--sha1 <hex>', 'use this SHA-1 instead of computing it')
    .option('--sha256 <hex>', 'use this SHA-256 instead of computing it')
    .option('--sha512 <hex>', 'use this SHA-512 instead of computing it')
    .option('--no-md5', 'do not compute MD5')
    .option('--no-sha256', 'do not compute SHA-256')
    .option('--no-sha512', 'do not compute SHA-512')
    .option('-o, --output <file>', 'write here instead of <os>-<osversion>-<arch>-<type>-<version>.xml in the current directory')
    .action(async (image: string, o: Record<string, unknown>) => {
      const ctx = contextOf(program);
      requireFile(image, 'image file');
      const given: Partial<Record<DigestName, string>> = {};
      for (const [, name] of BUILD_DIGESTS) {
        const v = o[name];
        if (typeof v === 'string') {
          if (!/^[0-9a-fA-F]+$/.test(v)) throw new StratusError('USAGE', `--${name} ${v} is not hexadecimal`);
          given[name] = v.toLowerCase();
        }
      }
      const wanted = BUILD_DIGESTS.map(([, n]) => n).filter((n) => given[n] === undefined && (n === 'sha1' || o[n] !== false));
      const compression = typeof o.compression === 'string' ? o.compression : compressionOf(image);
      if (!['gz', 'bz2', 'none', ''].includes(compression)) throw new StratusError('USAGE', `--compression ${compression} is not gz, bz2 or none`);
      const validDays = Number(o.validDays);
      if (!Number.isFinite(validDays) || validDays <= 0) throw new StratusError('USAGE', `--valid-days ${String(o.validDays)} must be a positive number`);
      const values = fieldValues(o);

      const bar = progressBar(`hashing ${basename(image)}`, statSync(image).size);
      const result = await hashFile(image, { algorithms: wanted, compression: compressionOf(image), onProgress: (read) => bar.update(read) });
      bar.finish();
      const draft = newDraft({ bytes: result.bytes, digests: { ...result.digests, ...given } },
        { ...values, compression: compression === 'none' ? '' : compression }, validDays);
      if ((draft.locations ?? []).length === 0) {
        printWarning(ctx.output, "Image physical location (URL) was not provided. You'll have to set it manually in the resulting manifest.");
      }
      const out = typeof o.output === 'string' ? o.output : join(process.cwd(), entryFileName(draft));
      writeFileAtomic(out, buildEntryXml(draft));
      printDetail(ctx.output, `Metadata written to ${out} (identifier ${draft.identifier}, ${draft.bytes} bytes)`);
    });
  return runProgram(program, argv);
}
