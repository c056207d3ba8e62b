import type { InstanceInfo } from '../../domain/instance-wire.js';
import { contextOf, newProgram, runProgram } from '../program.js';
import { addCloudOptions, cloudClient } from '../cloud.js';
import type { CloudOptionValues } from '../cloud.js';

/** Columns of §1.1: label, start width, value. The last one (name) is never padded. */
const COLUMNS: Array<[string, number, (i: InstanceInfo) => string]> = [
  ['id', 4, (i) => String(i.id)],
  ['state', 10, (i) => i.state],
  ['vcpu', 5, (i) => String(i.cpu)],
  ['memory', 10, (i) => String(i.memoryKiB)],
  ['cpu%', 5, (i) => String(i.cpuPercent)],
  ['host/ip', 24, (i) => i.address ?? ''],
  ['name', 0, (i) => i.name],
];

/** `stratus-describe-instance [vm-id …]` (reference §1.1): the caller's VMs as StratusLab's table. */
export default async function main(argv: string[]): Promise<number> {
  const program = addCloudOptions(newProgram('stratus-describe-instance', 'Describe your virtual machines (all of them, or the given vm IDs); Done ones drop out of the list.'))
    .argument('[vm-id...]', 'only these VMs')
    .option('-n, --numeric', 'print addresses (always: there is no reverse DNS for instance addresses)')
    .option('--json', 'print the VMs as a JSON array')
    .action(async (ids: string[], o: CloudOptionValues & { json?: boolean }) => {
      const ctx = contextOf(program);
      const client = await cloudClient(ctx, o);
      const vms = ids.length ? await Promise.all(ids.map((id) => client.instance(id))) : await client.listInstances();
      if (o.json) {
        ctx.output.out(JSON.stringify(vms, null, 2));
        return;
      }
      if (ids.length === 1 && ctx.output.level >= 3 && vms[0]) {
        const vm = vms[0];
        const context = await client.instanceContext(vm.id);
        ctx.output.out(allAttributes(vm, context.context));
        return;
      }
      ctx.output.out(table(vms, ctx.output.level > 0));
    });
  return runProgram(program, argv);
}

/** The table: each column left-justified, widened to (longest value + 1) when a value reaches its width. */
export function table(vms: InstanceInfo[], verbose: boolean): string {
  const widths = COLUMNS.map(([label, width, value]) => Math.max(width, ...[label, ...vms.map(value)].map((v) => (v.length >= width ? v.length + 1 : width))));
  const row = (cells: string[]): string => cells.map((c, n) => (n === cells.length - 1 ? c : c.padEnd(widths[n] as number))).join('');
  const lines = [row(COLUMNS.map(([label]) => label))];
  for (const vm of vms) {
    lines.push(row(COLUMNS.map(([, , value]) => value(vm))));
    // A save's outcome (MARKETPLACE_AND_IMAGEID) is the message of a Done instance: -v shows it too.
    if (verbose && vm.message && (vm.state === 'Failed' || vm.state === 'Unknown' || vm.state === 'Done')) lines.push(`${' '.repeat(widths[0] as number)}${vm.message}`);
  }
  return lines.join('\n');
}

/** `-vvv` with one ID: every attribute, flattened with `_`, lower-cased and sorted (the context as template_context_*). */
export function allAttributes(vm: InstanceInfo, context: Record<string, string>): string {
  const attrs = new Map<string, string>();
  const put = (k: string, v: unknown): void => {
    // A unit is one word: ramMiB is ram_mib, not ram_mi_b.
    const key = k.replace(/([KMG])iB$/, '$1ib').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    // vnc as vnc_address, vnc_port (and vnc_password, which the owner alone is sent)
    if (v !== null && typeof v === 'object') for (const [sub, w] of Object.entries(v)) put(`${key}_${sub}`, w);
    else attrs.set(key, v === null || v === undefined ? '' : String(v));
  };
  for (const [k, v] of Object.entries(vm)) put(k, v);
  for (const [k, v] of Object.entries(context)) attrs.set(`template_context_${k.toLowerCase()}`, v);
  const keys = [...attrs.keys()].sort();
  return ['-'.repeat(25), `${vm.id} (all attributes)`, ...keys.map((k) => `  ${k} = ${attrs.get(k) ?? ''}`)].join('\n');
}
