import { resolve } from 'node:path';
import { buildContext, contextFileText, parsePairs } from '../../context/cloud-init-pairs.js';
import { writeFileAtomic } from '../../platform/files.js';
import { newProgram, runProgram } from '../program.js';

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
      const text = contextFileText(buildContext(parsePairs(items)));
      // Whole or not at all: a half-written context would start a VM with half a script.
      writeFileAtomic(resolve(o.output ?? 'cloud-init.txt'), text);
    });
  return runProgram(program, argv);
}
