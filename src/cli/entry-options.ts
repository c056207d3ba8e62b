import { Option } from 'commander';
import type { Command } from 'commander';
import { StratusError } from '../domain/errors.js';
import { ENTRY_FIELDS, qualifiedName } from '../domain/entry-fields.js';
import type { EntryField, EntryFields } from '../domain/entry-fields.js';

/**
 * Adds an option for every field of the entry schema that stratus-build-metadata sets
 * (`build.option` in domain/entry-fields.ts), with the table's default. Returns the reader
 * of the parsed values: field name → value, integers checked against their range.
 */
export function addEntryFieldOptions(program: Command, fields: EntryFields = ENTRY_FIELDS): (o: Record<string, unknown>) => Record<string, unknown> {
  const options: Array<[EntryField, Option]> = [];
  for (const f of fields) {
    const flag = f.build?.option;
    if (!flag) continue;
    const hint = f.build?.hint ? ` (${f.build.hint})` : '';
    const option = new Option(flag, `${qualifiedName(f)}${hint}`);
    if (f.cardinality === 'many') option.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]).default([]);
    else option.default(f.build?.default ?? '');
    program.addOption(option);
    options.push([f, option]);
  }
  return (o) => {
    const values: Record<string, unknown> = {};
    for (const [f, option] of options) {
      const raw = o[option.attributeName()];
      if (f.type !== 'integer') values[f.name] = raw;
      else if (Array.isArray(raw)) values[f.name] = raw.map((v: string) => integerOption(f, option, v));
      else if (raw !== undefined && raw !== '') values[f.name] = integerOption(f, option, String(raw));
    }
    return values;
  };
}

function integerOption(f: EntryField, option: Option, v: string): number {
  const n = Number(v);
  const [min, max] = f.range ?? [0, Number.MAX_SAFE_INTEGER];
  if (!/^\d+$/.test(v.trim()) || n < min || n > max) throw new StratusError('USAGE', `${option.long ?? option.flags} ${v} must be ${min}-${max}`);
  return n;
}
