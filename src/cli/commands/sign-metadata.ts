import { readFileSync, renameSync } from 'node:fs';
import { StratusError } from '../../domain/errors.js';
import { parseXml } from '../../metadata/xml/parse.js';
import { serializeDocument } from '../../metadata/xml/serialize.js';
import { signDocument } from '../../metadata/dsig/sign.js';
import type { SigningAlgorithmName } from '../../metadata/dsig/algorithms.js';
import { requireFile, writeFileAtomic } from '../../platform/files.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { addSigningOptions, signingCredentials } from '../credentials.js';
import type { SigningOptionValues } from '../credentials.js';
import { printDetail } from '../output.js';

export default async function main(argv: string[]): Promise<number> {
  const program = addSigningOptions(newProgram('stratus-sign-metadata',
    'Sign a metadata file: fill its endorsement from your certificate and add an enveloped XML signature (RSA-SHA256 by default).'))
    .argument('<metadata-file>', 'unsigned or previously signed metadata')
    .option('--output <file>', 'write the signed file here (default: replace the input and keep the original as <file>.orig)')
    .option('--email <addr>', 'endorser e-mail, used when the certificate has no e-mail SubjectAltName')
    .action(async (file: string, o: SigningOptionValues & { output?: string; email?: string }) => {
      const ctx = contextOf(program);
      requireFile(file, 'metadata file');
      const credentials = await signingCredentials(ctx, o);
      let signed: string;
      try {
        const doc = parseXml(readFileSync(file), { source: file });
        signDocument(doc, { credentials, algorithm: o.algorithm as SigningAlgorithmName, ...(o.email ? { email: o.email } : {}) });
        signed = serializeDocument(doc);
      } catch (e) {
        if (e instanceof StratusError) throw new StratusError(e.code, `Error signing metadata file: ${e.message}`, { hint: e.hint });
        throw e;
      }
      if (o.output) {
        writeFileAtomic(o.output, signed);
      } else {
        renameSync(file, `${file}.orig`);
        writeFileAtomic(file, signed);
      }
      printDetail(ctx.output, `Metadata file successfully signed: ${o.output ?? file}`);
    });
  return runProgram(program, argv);
}
