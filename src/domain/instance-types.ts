import { StratusError } from './errors.js';

/** An instance type: virtual CPUs, RAM and swap in MiB (reference §2.1). */
export interface InstanceType {
  cpu: number;
  ramMiB: number;
  swapMiB: number;
}

export const DEFAULT_INSTANCE_TYPE = 'm1.small';

/** StratusLab's table since 2012-12 (and the 2014 tutorial's). */
export const INSTANCE_TYPES: Readonly<Record<string, InstanceType>> = {
  't1.micro': { cpu: 1, ramMiB: 512, swapMiB: 512 },
  'm1.small': { cpu: 1, ramMiB: 1536, swapMiB: 1536 },
  'm1.medium': { cpu: 1, ramMiB: 3072, swapMiB: 3072 },
  'm1.large': { cpu: 2, ramMiB: 6144, swapMiB: 6144 },
  'm1.xlarge': { cpu: 4, ramMiB: 8192, swapMiB: 8192 },
  'c1.medium': { cpu: 2, ramMiB: 1536, swapMiB: 1536 },
  'c1.xlarge': { cpu: 4, ramMiB: 6144, swapMiB: 6144 },
};

/**
 * The user's `[instance_types]` merged over the defaults. As StratusLab parsed them: every
 * run of digits is pulled out of the value (`4, 2048, 2048`, `4 cpu 2048 MB 2048 MB`), and a
 * definition is kept only with exactly three integers, cpu > 0, ram > 0 and swap ≥ 0; the
 * others are returned as `ignored` so a command can say why a type is missing.
 */
export function instanceTypes(userTypes?: ReadonlyMap<string, string>): { types: Record<string, InstanceType>; ignored: string[] } {
  const types: Record<string, InstanceType> = { ...INSTANCE_TYPES };
  const ignored: string[] = [];
  for (const [name, value] of userTypes ?? []) {
    const numbers = (value.match(/\d+/g) ?? []).map(Number);
    const [cpu, ramMiB, swapMiB] = numbers;
    if (numbers.length === 3 && (cpu as number) > 0 && (ramMiB as number) > 0 && (swapMiB as number) >= 0) {
      types[name] = { cpu: cpu as number, ramMiB: ramMiB as number, swapMiB: swapMiB as number };
    } else {
      ignored.push(`${name} = ${value}`);
    }
  }
  return { types, ignored };
}

/** The type named by `-t`, with `--cpu/--ram/--swap` applied on top. */
export function resolveInstanceType(types: Record<string, InstanceType>, name = DEFAULT_INSTANCE_TYPE, overrides: Partial<InstanceType> = {}): InstanceType {
  const base = types[name];
  if (!base) {
    throw new StratusError('USAGE', `Unknown instance type: ${name}`, { hint: `Run with --list-types to see them: ${Object.keys(types).sort().join(', ')}.` });
  }
  return { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
}

/** The `--list-types` table, exactly as StratusLab printed it: sorted, `*` on the selected type. */
export function formatInstanceTypes(types: Record<string, InstanceType>, selected = DEFAULT_INSTANCE_TYPE): string {
  const lines = [` ${'Type'.padEnd(10)}${'CPU'.padStart(10)}${'RAM'.padStart(10)}${'SWAP'.padStart(10)}`];
  for (const name of Object.keys(types).sort()) {
    const t = types[name] as InstanceType;
    lines.push(`${name === selected ? '*' : ' '} ${name.padEnd(10)} ${`${t.cpu} CPU`.padStart(10)} ${`${t.ramMiB} MB`.padStart(10)} ${`${t.swapMiB} MB`.padStart(10)}`);
  }
  return lines.join('\n');
}
