import { readFileSync } from 'node:fs';
import { isStratusError } from '../../domain/errors.js';
import { parseXml } from '../../metadata/xml/parse.js';
import { validateDocument } from '../../metadata/validate/validate.js';
import type { Finding } from '../../metadata/validate/validate.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import { printWarning } from '../output.js';

interface FileResult {
  file: string;
  valid: boolean;
  findings: Finding[];
  signer?: string;
}

export default async function main(argv: string[]): Promise<number> {
  const program = newProgram('stratus-validate-metadata',
    'Check metadata files: signature, endorser consistency, schema, constraints and RDF/XML. Exit status is the number of invalid files.', { userConfig: false })
    .argument('<metadata-file...>', 'files to check')
    .option('--allow-unsigned', 'accept a missing signature (report it as a warning)')
    .option('--json', 'print the results as JSON')
    .action(async (files: string[], o: { allowUnsigned?: boolean; json?: boolean }) => {
      const ctx = contextOf(program);
      const results = files.map((f) => check(f));
      let invalid = 0;
      for (const r of results) {
        const blocking = r.findings.filter((f) => !(o.allowUnsigned && f.check === 'signature' && f.message === 'no signature'));
        r.valid = blocking.length === 0;
        if (!r.valid) invalid++;
        if (o.json) continue;
        if (r.valid) {
          ctx.output.out(`Valid: ${r.file}`);
          if (blocking.length !== r.findings.length) printWarning(ctx.output, `${r.file}: no signature`);
        } else {
          ctx.output.err(`Invalid: ${r.file}`);
          for (const f of blocking) ctx.output.err(f.message);
        }
      }
      if (o.json) ctx.output.out(JSON.stringify(results, null, 2));
      process.exitCode = Math.min(invalid, 125);
    });
  return runProgram(program, argv);
}

function check(file: string): FileResult {
  try {
    const report = validateDocument(parseXml(readFileSync(file), { source: file }));
    const r: FileResult = { file, valid: report.findings.length === 0, findings: report.findings };
    if (report.signature?.certificate) r.signer = report.signature.certificate.subject;
    return r;
  } catch (e) {
    if (isStratusError(e)) return { file, valid: false, findings: [{ check: 'schema', message: e.message }] };
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, valid: false, findings: [{ check: 'schema', message: `Can't find metadata file: ${file}` }] };
    throw e;
  }
}
