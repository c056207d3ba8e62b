import { resolve } from 'node:path';
import { buildContext, contextFileText, parsePairs, readContextFile } from '../../context/cloud-init-pairs.js';
import { lintContext } from '../../context/lint.js';
import { writeFileAtomic } from '../../platform/files.js';
import { contextOf, newProgram, runProgram } from '../program.js';
import { printWarning } from '../output.js';

/**
 * `stratus-prepare-context mimetype,file …` (reference §1.4, §8.1): writes ./cloud-init.txt for
 * `stratus-run-instance --context-file`. No SSH key is added unless one is given (`ssh,…`).
 */
export default async function main(argv: string[]): Promise<number> {
  const program = newProgram('stratus-prepare-context',
    'Write cloud-init.txt (the cloud-init context) in the current directory from mimetype,file pairs: ssh (public keys), none (one file as the whole user-data), or any MIME type (a multipart part text/<type>, e.g. x-shellscript, cloud-config). Pass it on with stratus-run-instance --context-file cloud-init.txt.',
    { userConfig: false })
    .argument('<file-desc...>', 'mimetype,filename pairs, e.g. ssh,$HOME/.ssh/id_rsa.pub x-shellscript,run-http.sh')
    .option('-o, --output <file>', 'write here instead of ./cloud-init.txt')
    .action((items: string[], o: { output?: string }) => {
      const pairs = parsePairs(items);
      const ctx = buildContext(pairs);
      const text = contextFileText(ctx);
      // Warnings, not errors: cloud-init may still be told to accept what looks wrong here.
      for (const w of lintContext(pairs, readContextFile, ctx.userData)) printWarning(contextOf(program).output, w);
      // Whole or not at all: a half-written context would start a VM with half a script.
      writeFileAtomic(resolve(o.output ?? 'cloud-init.txt'), text);
    });
  return runProgram(program, argv);
}
