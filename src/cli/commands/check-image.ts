import { auditImage } from '../../images/index.js';
import type { Finding, Severity } from '../../images/index.js';
import { newProgram, runProgram, contextOf } from '../program.js';

/** Exit statuses by the worst finding (1 stays "the command failed", as for every stratus-* command). */
export const EXIT_FOR: Readonly<Record<Severity, number>> = { info: 0, warning: 3, error: 4 };

const MARK: Readonly<Record<Severity, string>> = { error: 'ERROR', warning: 'WARNING', info: 'ok' };

/**
 * stratus-check-image: the seed's "Building Images from Scratch" checklist as an offline audit
 * (no boot, no mount): contextualization, DHCP, persistent-net rules, secrets, SSH by key only,
 * a firewall, and what starts at boot.
 */
export default async function main(argv: string[]): Promise<number> {
  const program = newProgram('stratus-check-image',
    `Audit an image (raw, qcow2, or either gzip'ed) against the checklist for cloud images, without booting or mounting it: a contextualization agent, DHCP, no udev persistent-net rules, no secrets (host keys, authorized_keys, private keys, shell histories, passwords, machine-id, cloud-init state), SSH by key only, a firewall, the services enabled at boot. Exit status: 0 when nothing is wrong, ${EXIT_FOR.warning} for warnings, ${EXIT_FOR.error} for errors, 1 when the image cannot be read.`)
    .argument('<image>', 'the image file')
    .option('--json', 'print the findings as JSON')
    .action(async (image: string, o: { json?: boolean }) => {
      const out = contextOf(program).output;
      const result = await auditImage(image);
      if (o.json) {
        out.out(JSON.stringify({ image, worst: result.worst, findings: result.findings }, null, 2));
      } else {
        for (const f of order(result.findings)) {
          if (f.severity === 'info' && out.level < 0) continue;
          out.out(`  [${MARK[f.severity]}] ${f.check}: ${f.message}${f.severity === 'info' ? '' : `\n      ${f.path}\n      fix: ${f.hint}${f.fixable ? ' (--sysprep can)' : ''}`}`);
        }
        const count = (s: Severity): number => result.findings.filter((f) => f.severity === s).length;
        out.out(`${image}: ${count('error')} error(s), ${count('warning')} warning(s)`);
      }
      process.exitCode = EXIT_FOR[result.worst];
    });
  return runProgram(program, argv);
}

function order(findings: Finding[]): Finding[] {
  const rank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  return [...findings].sort((a, b) => rank[a.severity] - rank[b.severity]);
}
