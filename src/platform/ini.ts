/**
 * Reader and small writer for the INI dialect of Python's ConfigParser, as used by
 * StratusLab's `stratuslab-user.cfg` (reference §9.1).
 *
 * The dialect, line by line (the behaviour follows Python 2's ConfigParser, which
 * StratusLab ran on, except where noted):
 * - Blank lines are skipped. They do not end a multi-line value.
 * - A line whose first character is `#` or `;` is a comment. Comments are recognised only in
 *   column 0: a `#` or `;` anywhere else is data. Passwords often contain them. Unlike
 *   Python 2, a `;` after whitespace inside a value is not an inline comment either.
 * - `[name]` starts a section. Names are case-sensitive and may contain dots. A second
 *   header with the same name reopens that section. Only a comment may follow the `]`.
 * - `key = value` or `key: value`. The first `=` or `:` is the separator, so the value may
 *   contain both. Keys are lower-cased and trimmed, and values are trimmed. An empty value is
 *   allowed.
 * - A line that starts with whitespace continues the previous key. Its trimmed text is
 *   appended after a '\n'. So `key =` followed by indented lines gives a value that starts
 *   with '\n', as in ConfigParser.
 * - Any other line (no separator, an empty key, a key before the first section, an indented
 *   line with no key before it) is CONFIG_INVALID with `file:line`. The message never repeats
 *   the line itself, because it may hold a password.
 *
 * Values are stored raw. `interpolate` expands `%(name)s` and `%%` as SafeConfigParser does,
 * looking up names in the same section and then in `[default]`.
 */
import { StratusError } from '../domain/errors.js';

/** Section name -> key -> value (raw, uninterpolated). */
export type IniSections = Map<string, Map<string, string>>;

/** The section whose keys every other section inherits (ConfigParser's DEFAULT, named as StratusLab names it). */
export const DEFAULT_SECTION = 'default';

/** Python's MAX_INTERPOLATION_DEPTH. */
const MAX_INTERPOLATION_DEPTH = 10;

/** Where each key was read, so that interpolation errors can name file:line. */
interface Origin {
  readonly source: string;
  readonly lines: Map<string, Map<string, number>>;
}
const origins = new WeakMap<IniSections, Origin>();

function invalid(message: string, hint?: string): StratusError {
  return new StratusError('CONFIG_INVALID', message, hint === undefined ? {} : { hint });
}

const SECTION_RE = /^\[([^\]]+)\]\s*(?:[#;].*)?$/;

/**
 * Parse INI text. `source` (usually the file path) is used in error messages; it defaults
 * to `<string>`.
 */
export function parseIni(text: string, source?: string): IniSections {
  const where = source ?? '<string>';
  const sections: IniSections = new Map();
  const lineOf = new Map<string, Map<string, number>>();
  let current: Map<string, string> | undefined;
  let currentLines: Map<string, number> | undefined;
  let currentKey: string | undefined;

  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines = body.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const at = `${where}:${i + 1}`;
    if (line.trim() === '') continue;
    const first = line[0];
    if (first === '#' || first === ';') continue;

    if (/^\s/.test(line)) {
      if (current === undefined || currentKey === undefined) {
        throw invalid(`${at}: indented line does not continue any key`, 'Continuation lines must follow a "key = value" line; remove the indentation otherwise.');
      }
      current.set(currentKey, `${current.get(currentKey) ?? ''}\n${line.trim()}`);
      continue;
    }

    if (first === '[') {
      const m = SECTION_RE.exec(line);
      if (m === null) throw invalid(`${at}: bad section header (expected [name])`, 'A section header is [name] alone on its line.');
      const name = m[1] ?? '';
      current = sections.get(name);
      if (current === undefined) {
        current = new Map();
        sections.set(name, current);
      }
      currentLines = lineOf.get(name);
      if (currentLines === undefined) {
        currentLines = new Map();
        lineOf.set(name, currentLines);
      }
      currentKey = undefined;
      continue;
    }

    const sep = line.search(/[:=]/);
    if (sep < 0) {
      throw invalid(`${at}: line is not a [section], a "key = value", a comment or an indented continuation`, 'Write key = value (or key: value); comments start with # or ; in the first column.');
    }
    const key = line.slice(0, sep).trim().toLowerCase();
    if (key === '') throw invalid(`${at}: "=" or ":" with no key before it`);
    if (current === undefined || currentLines === undefined) {
      throw invalid(`${at}: key "${key}" comes before any [section] header`, 'Put [default] at the top of the file.');
    }
    current.set(key, line.slice(sep + 1).trim());
    currentLines.set(key, i + 1);
    currentKey = key;
  }

  origins.set(sections, { source: where, lines: lineOf });
  return sections;
}

function lookupRaw(sections: IniSections, section: string, key: string): { value: string; section: string } | undefined {
  const own = sections.get(section)?.get(key);
  if (own !== undefined) return { value: own, section };
  const inherited = sections.get(DEFAULT_SECTION)?.get(key);
  return inherited === undefined ? undefined : { value: inherited, section: DEFAULT_SECTION };
}

function location(sections: IniSections, section: string, key: string): string {
  const o = origins.get(sections);
  const line = o?.lines.get(section)?.get(key);
  if (o === undefined) return `[${section}] ${key}`;
  return line === undefined ? `${o.source} [${section}] ${key}` : `${o.source}:${line}`;
}

function expand(sections: IniSections, section: string, value: string, depth: number, at: string, chain: string[]): string {
  if (!value.includes('%')) return value;
  if (depth > MAX_INTERPOLATION_DEPTH) {
    throw invalid(`${at}: interpolation nested more than ${MAX_INTERPOLATION_DEPTH} levels (${chain.join(' -> ')}); is there a reference loop?`);
  }
  let out = '';
  let i = 0;
  while (i < value.length) {
    const p = value.indexOf('%', i);
    if (p < 0) {
      out += value.slice(i);
      break;
    }
    out += value.slice(i, p);
    const next = value[p + 1];
    if (next === '%') {
      out += '%';
      i = p + 2;
      continue;
    }
    const m = next === '(' ? /^%\(([^)]+)\)s/.exec(value.slice(p)) : null;
    if (m === null) {
      throw invalid(`${at}: "%" must be followed by "%" or "(name)s" (key ${chain.join(' -> ')})`, 'Write %% for a literal % (values are interpolated as in Python ConfigParser).');
    }
    const name = (m[1] ?? '').toLowerCase();
    const ref = lookupRaw(sections, section, name);
    if (ref === undefined) {
      throw invalid(`${at}: %(${name})s refers to a key that is in neither [${section}] nor [${DEFAULT_SECTION}] (key ${chain.join(' -> ')})`, 'Define the key, or write %% for a literal %.');
    }
    out += expand(sections, section, ref.value, depth + 1, at, [...chain, name]);
    i = p + m[0].length;
  }
  return out;
}

/**
 * The value of `key` in `section` with `%(name)s` and `%%` expanded. A key that `section`
 * lacks is taken from `[default]`, like ConfigParser's DEFAULT. Returns undefined when
 * neither has the key (or the section does not exist). Throws CONFIG_INVALID, naming
 * file:line, for a lone `%`, an unknown reference, or a reference loop.
 */
export function interpolate(sections: IniSections, section: string, key: string): string | undefined {
  if (!sections.has(section)) return undefined;
  const k = key.toLowerCase();
  const found = lookupRaw(sections, section, k);
  if (found === undefined) return undefined;
  return expand(sections, section, found.value, 1, location(sections, found.section, k), [k]);
}

/**
 * Write sections back as INI that `parseIni` reads to the same Map. Continuation lines are
 * indented with a tab, as ConfigParser writes them. Values are written raw (a literal % stays
 * as it is stored). Names and values that could not be read back unchanged are refused
 * with CONFIG_INVALID: a key in upper case or holding `=`, `:` or a line break, a section
 * name holding `]` or a line break, leading or trailing blanks on a value line, and empty
 * lines inside a value.
 */
export function formatIni(sections: IniSections): string {
  const out: string[] = [];
  for (const [name, entries] of sections) {
    if (name === '' || /[\]\r\n]/.test(name)) throw invalid(`cannot write section name ${JSON.stringify(name)}: it must be non-empty, without "]" or line breaks`);
    if (out.length > 0) out.push('');
    out.push(`[${name}]`);
    for (const [key, value] of entries) {
      const what = `[${name}] ${JSON.stringify(key)}`;
      if (key === '' || key !== key.trim() || key !== key.toLowerCase() || /[:=\r\n]/.test(key) || /^[#;[]/.test(key)) {
        throw invalid(`cannot write key ${what}: keys are lower case, trimmed, without "=", ":" or line breaks, and do not start with #, ; or [`);
      }
      const parts = value.split('\n');
      parts.forEach((part, n) => {
        if (part !== part.trim() || part.includes('\r')) throw invalid(`cannot write ${what}: line ${n + 1} of the value has leading or trailing blanks, which INI does not keep`);
        if (part === '' && n > 0) throw invalid(`cannot write ${what}: line ${n + 1} of the value is empty, which INI does not keep`);
      });
      const [head, ...rest] = parts;
      out.push(head === '' ? `${key} =` : `${key} = ${head}`);
      for (const more of rest) out.push(`\t${more}`);
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
