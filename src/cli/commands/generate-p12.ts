import { existsSync } from 'node:fs';
import { StratusError } from '../../domain/errors.js';
import { generateSelfSignedP12 } from '../../metadata/cert/generate.js';
import { writeFileAtomic } from '../../platform/files.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { printDetail } from '../output.js';

export default async function main(argv: string[]): Promise<number> {
  const program = newProgram('stratus-generate-p12',
    'Make a self-signed PKCS#12 signing certificate (RSA 2048, e-mail SubjectAltName), as StratusLab\'s builders used.', { userConfig: false })
    .option('-n, --common-name <cn>', 'certificate common name', 'Jane Tester')
    .option('-e, --email <addr>', 'e-mail SubjectAltName (the endorser e-mail)', 'jane.tester@example.org')
    .option('-o, --output <file>', 'P12 file to write', 'cert.p12')
    .option('-p, --password <pw>', 'P12 password', 'XYZXYZ')
    .option('--validity <days>', 'days of validity', '365')
    .option('--force', 'overwrite an existing output file')
    .action(async (o: { commonName: string; email: string; output: string; password: string; validity: string; force?: boolean }) => {
      const ctx = contextOf(program);
      if (existsSync(o.output) && !o.force) {
        throw new StratusError('USAGE', `${o.output} already exists`, { hint: 'Choose another --output, or pass --force to replace it.' });
      }
      const days = Number(o.validity);
      const p12 = generateSelfSignedP12({ commonName: o.commonName, email: o.email, password: o.password, validityDays: days });
      writeFileAtomic(o.output, p12, 0o600);
      printDetail(ctx.output, `Wrote ${o.output} for CN=${o.commonName} <${o.email}>, valid ${days} days`);
    });
  return runProgram(program, argv);
}
