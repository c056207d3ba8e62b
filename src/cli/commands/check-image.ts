import { StratusError } from '../../domain/errors.js';
import { auditImage, byWorst, outputFormatFor, sysprepImage } from '../../images/index.js';
import type { Finding, Severity } from '../../images/index.js';
import type { Output } from '../output.js';
import { formatBytes } from '../../platform/progress.js';
import { newProgram, onInterrupt, runProgram, contextOf } from '../program.js';
import { parseFormat } from './convert-image.js';

/** Exit statuses by the worst finding (1 stays "the command failed", as for every stratus-* command). */
export const EXIT_FOR: Readonly<Record<Severity, number>> = { info: 0, warning: 3, error: 4 };

const MARK: Readonly<Record<Severity, string>> = { error: 'ERROR', warning: 'WARNING', info: 'ok' };

interface CheckOptions {
  json?: boolean;
  sysprep?: string;
  outputFormat?: string;
  gzip?: boolean;
  force?: boolean;
  allowUnfixable?: boolean;
  identifier?: boolean;
}

/**
 * stratus-check-image: the seed's "Building Images from Scratch" checklist as an offline audit
 * (no boot, no mount): contextualization, DHCP, persistent-net rules, secrets, SSH by key only,
 * a firewall, and what starts at boot. With --sysprep, a cleaned copy as well.
 */
export default async function main(argv: string[]): Promise<number> {
  const program = newProgram('stratus-check-image',
    `Audit an image (raw, qcow2, or either gzip'ed) against the checklist for cloud images, without booting or mounting it: a contextualization agent, DHCP, no udev persistent-net rules, no secrets (host keys, authorized_keys, private keys, shell histories, passwords, machine-id, cloud-init state), SSH by key only, a firewall, the services enabled at boot. With --sysprep OUT, write a cleaned copy to OUT (the image itself is never changed): secrets removed, passwords locked, machine-id emptied, net rules and cloud-init state deleted; the copy is audited again. Exit status: 0 when nothing is wrong, ${EXIT_FOR.warning} for warnings, ${EXIT_FOR.error} for errors (of the copy, with --sysprep), 1 when the image cannot be read or cleaned.`)
    .argument('<image>', 'the image file')
    .option('--json', 'print the findings as JSON')
    .option('--sysprep <output>', 'write a cleaned copy to this file (.img, .qcow2; a .gz ending gzips it); refused when a problem is left that cannot be fixed offline')
    .option('-O, --output-format <format>', 'with --sysprep: raw or qcow2 (default: qcow2 for a .qcow2 output, raw otherwise)')
    .option('-z, --gzip', 'with --sysprep: gzip the copy (implied by an output ending in .gz)')
    .option('-f, --force', 'with --sysprep: replace the output file when it exists')
    .option('--allow-unfixable', 'with --sysprep: write the cleaned copy even when problems that cannot be fixed offline are left in it')
    .option('--identifier', 'with --sysprep: print the copy\'s SHA-1 and Marketplace identifier')
    .action(async (image: string, o: CheckOptions) => {
      const out = contextOf(program).output;
      if (o.sysprep === undefined) {
        for (const flag of ['outputFormat', 'gzip', 'force', 'allowUnfixable', 'identifier'] as const) {
          if (o[flag] !== undefined) throw new StratusError('USAGE', `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} goes with --sysprep <output>`);
        }
        const result = await auditImage(image);
        if (o.json) out.out(JSON.stringify({ image, worst: result.worst, findings: result.findings }, null, 2));
        else printFindings(out, image, result.findings);
        process.exitCode = EXIT_FOR[result.worst];
        return;
      }
      const output = o.sysprep;
      const format = parseFormat(o.outputFormat ?? outputFormatFor(output));
      const result = await sysprepImage({
        input: image, output, format, gzip: o.gzip === true || output.endsWith('.gz'), force: o.force === true,
        allowUnfixable: o.allowUnfixable === true, identifier: o.identifier === true, progress: process.stdout.isTTY && !o.json && out.level >= 0, onInterrupt,
      });
      const c = result.converted;
      if (o.json) {
        out.out(JSON.stringify({
          image, output: c.output, format: c.format, gzip: c.gzip, bytes: c.bytes, ...(c.identifier ? { sha1: c.sha1, identifier: c.identifier } : {}),
          fixed: result.fixed, worst: result.after.worst, findings: result.after.findings,
        }, null, 2));
      } else {
        for (const f of result.fixed) out.out(`  [fixed] ${f.check}: ${f.path}`);
        out.out(`Cleaned ${image} into ${c.output} (${c.format}${c.gzip ? ', gzip' : ''}, ${formatBytes(c.bytes)}): ${result.fixed.length} problem(s) fixed`);
        if (c.identifier) out.out(`Identifier: ${c.identifier} (SHA-1 ${c.sha1 ?? ''})`);
        printFindings(out, c.output, result.after.findings);
      }
      process.exitCode = EXIT_FOR[result.after.worst];
    });
  return runProgram(program, argv);
}

function printFindings(out: Output, image: string, findings: Finding[]): void {
  for (const f of byWorst(findings)) {
    if (f.severity === 'info' && out.level < 0) continue;
    out.out(`  [${MARK[f.severity]}] ${f.check}: ${f.message}${f.severity === 'info' ? '' : `\n      ${f.path}\n      fix: ${f.hint}${f.fixable ? ' (--sysprep can)' : ''}`}`);
  }
  const count = (s: Severity): number => findings.filter((f) => f.severity === s).length;
  out.out(`${image}: ${count('error')} error(s), ${count('warning')} warning(s)`);
}
