import { gzipSync } from 'node:zlib';
import { StratusError } from '../domain/errors.js';
import { checkProxyUrl } from './apt-proxy.js';
import { buildIso } from './iso9660.js';
import { USER_DATA_LIMIT, checkHostname } from './nocloud.js';

/**
 * The `one` context method (reference §8.2): an OpenNebula context CD holding `context.sh`.
 * Both base images read it: debian-12 through cloud-init's OpenNebula datasource, ttylinux
 * through its agent (recipes/ttylinux/rootfs/usr/sbin/stratus-context).
 */

/**
 * The CD's volume label. cloud-init's ds-identify enables the OpenNebula datasource only for a
 * filesystem labelled CONTEXT or CDROM (StratusLab's `_STRATUSLAB` is not looked for), and the
 * ttylinux agent looks for CONTEXT too (and _STRATUSLAB, for old disks).
 */
export const ONE_CONTEXT_LABEL = 'CONTEXT';

/** context.sh may be at most this big: user-data has its own, smaller limit (16 KiB gzipped). */
export const CONTEXT_SCRIPT_LIMIT = 64 * 1024;

/** Variables by upper-cased name, in the order first given; a later value of a name replaced the earlier one. */
export type ContextVariables = Map<string, string>;

export interface ContextSources {
  /** The text of the --context-file: one KEY=value per line. */
  fileText?: string;
  /** --context values: KEY=value items separated by `#` (each string may hold several). */
  items?: readonly string[];
  /** Lines Stratus generates (the cloud-init lines of §8.1), merged last. */
  generated?: readonly string[];
}

const SYNTAX_HINT = 'Write each context entry as KEY=value: one per line in --context-file, separated by # in --context.';

/**
 * Variables bash will not assign (readonly: assigning one ends cloud-init's `bash -e` reading of
 * context.sh, and the guest gets no context at all) or keeps for itself (cloud-init drops them).
 */
const SHELL_RESERVED = new Set(['UID', 'EUID', 'PPID', 'SHELLOPTS', 'BASHOPTS', 'GROUPS', 'FUNCNAME', 'DIRSTACK', 'HISTCMD',
  'RANDOM', 'SRANDOM', 'SECONDS', 'LINENO', 'EPOCHSECONDS', 'EPOCHREALTIME', '_']);

/**
 * The §8.2 merge, as StratusLab's client did it: --context-file lines, then --context items, then
 * the generated lines; empty lines skipped; the name is the text before the first `=` and the
 * value all the rest (`=` included); a later name replaces an earlier one. Names are
 * upper-cased here, as OpenNebula did when it wrote context.sh, so `web_port` and `WEB_PORT` are
 * one variable. Differences, each an error where StratusLab wrote a template OpenNebula refused
 * or a context.sh the guest misread: a name must be a shell variable name (blanks around it are
 * dropped, as OpenNebula's template parser did); a value cannot hold a NUL byte; a line of the
 * file loses a trailing CR (a file saved with CRLF line ends).
 */
export function mergeContext(s: ContextSources): ContextVariables {
  const lines = [
    ...(s.fileText === undefined ? [] : s.fileText.split('\n').map((l) => l.replace(/\r$/, ''))),
    ...(s.items ?? []).flatMap((i) => i.split('#')),
    ...(s.generated ?? []),
  ];
  const vars: ContextVariables = new Map();
  for (const line of lines) {
    if (line.length === 0) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw new StratusError('USAGE', `Error while parsing contextualization file.\nSyntax error in line \`${line}\``, { hint: SYNTAX_HINT });
    setVariable(vars, line.slice(0, eq), line.slice(eq + 1), `line \`${line}\``);
  }
  return vars;
}

function setVariable(vars: ContextVariables, rawName: string, value: string, where: string): void {
  const name = rawName.trim().toUpperCase();
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) {
    throw new StratusError('USAGE', `context variable name '${rawName}' (${where}) is not a shell variable name`, {
      hint: `Names are letters, digits and _, not starting with a digit, e.g. WEB_PORT=8080. ${SYNTAX_HINT}`,
    });
  }
  if (SHELL_RESERVED.has(name) || name.startsWith('BASH')) {
    throw new StratusError('USAGE', `context variable ${name} (${where}) is one the shell keeps for itself: the guest could not read it`, { hint: 'Rename the variable.' });
  }
  if (value.includes('\0')) throw new StratusError('USAGE', `context variable ${name} (${where}) holds a NUL byte, which no shell variable can`, { hint: 'Pass binary data base64-encoded.' });
  vars.set(name, value);
}

export interface OneContextInput {
  method: 'one';
  /** mergeContext's result, or any name → value pairs (names are checked and upper-cased). */
  variables: ContextVariables | Record<string, string>;
  /** The text of the user's key file (StratusLab always set public_key from --key). */
  publicKey?: string;
  /** The guest's host name (SET_HOSTNAME), unless the variables set SET_HOSTNAME or HOSTNAME. */
  hostname?: string;
  /** The package proxy URL (STRATUS_APT_PROXY, which the debian-12 image hands to apt). */
  aptProxy?: string;
}

export function isOneContext(input: object): input is OneContextInput {
  return 'method' in input && input.method === 'one';
}

/**
 * Every variable the CD carries, in context.sh's order: PUBLIC_KEY first (as in StratusLab's
 * template), the caller's variables, then what the guests need and the caller's variables do
 * not say in a form both guests read:
 *  - SSH_PUBLIC_KEY: every key line of SSH_KEY, SSH_PUBLIC_KEY and PUBLIC_KEY (cloud-init reads
 *    only SSH_KEY, else SSH_PUBLIC_KEY; SSH_KEY, when given, gets the same lines);
 *  - SET_HOSTNAME from `hostname`;
 *  - USER_DATA (base64 of gzip, USERDATA_ENCODING=base64) from the start script
 *    (START_SCRIPT_BASE64, else START_SCRIPT, else StratusLab's SCRIPT_EXEC; `#!/bin/sh` is
 *    put in front of one without `#!`), unless USER_DATA or USERDATA is given: cloud-init runs
 *    user-data and knows no start script;
 *  - STRATUS_APT_PROXY, the package proxy.
 */
export function oneContextVariables(input: OneContextInput): ContextVariables {
  const out: ContextVariables = new Map();
  if (input.publicKey !== undefined) setVariable(out, 'PUBLIC_KEY', input.publicKey, 'the key file');
  const given = input.variables instanceof Map ? [...input.variables] : Object.entries(input.variables);
  for (const [name, value] of given) setVariable(out, name, value, `${name}=…`);

  const keys = [...new Set(['SSH_KEY', 'SSH_PUBLIC_KEY', 'PUBLIC_KEY']
    .flatMap((n) => (out.get(n) ?? '').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))))];
  if (keys.length) {
    out.set('SSH_PUBLIC_KEY', keys.join('\n'));
    if (out.has('SSH_KEY')) out.set('SSH_KEY', keys.join('\n'));
  }
  if (input.hostname !== undefined && !out.has('SET_HOSTNAME') && !out.has('HOSTNAME')) out.set('SET_HOSTNAME', checkHostname(input.hostname));

  const userData = out.get('USER_DATA') ?? out.get('USERDATA');
  if (userData !== undefined) {
    const encoding = out.get('USERDATA_ENCODING') ?? out.get('USER_DATA_ENCODING');
    checkUserDataSize(encoding === 'base64' ? decodeBase64(userData, 'USER_DATA') : Buffer.from(userData, 'utf8'), 'USER_DATA');
  } else {
    const script = startScript(out);
    if (script) {
      out.set('USER_DATA', checkUserDataSize(script, 'the start script').toString('base64'));
      out.set('USERDATA_ENCODING', 'base64');
    }
  }
  if (input.aptProxy !== undefined) out.set('STRATUS_APT_PROXY', checkProxyUrl(input.aptProxy));
  return out;
}

function startScript(vars: ContextVariables): Buffer | undefined {
  const b64 = vars.get('START_SCRIPT_BASE64');
  const text = b64 ? decodeBase64(b64, 'START_SCRIPT_BASE64') : Buffer.from(vars.get('START_SCRIPT') || vars.get('SCRIPT_EXEC') || '', 'utf8');
  if (!text.length) return undefined;
  return text.subarray(0, 2).toString() === '#!' ? text : Buffer.concat([Buffer.from('#!/bin/sh\n'), text]);
}

function decodeBase64(text: string, name: string): Buffer {
  const clean = text.replace(/\s+/g, '');
  const bytes = Buffer.from(clean, 'base64');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || bytes.toString('base64').replace(/=+$/, '') !== clean.replace(/=+$/, '')) {
    throw new StratusError('USAGE', `context variable ${name} is not valid base64`, { hint: 'Encode the file with base64 -w0 FILE.' });
  }
  return bytes;
}

/** Returns gzip of the user-data, which must fit the limit cloud-init user-data has everywhere in Stratus. */
function checkUserDataSize(bytes: Buffer, what: string): Buffer {
  const gz = gzipSync(bytes, { level: 9 });
  if (gz.length > USER_DATA_LIMIT) {
    throw new StratusError('CONTEXT_TOO_LARGE', `${what} is ${gz.length} bytes gzipped, over the limit of ${USER_DATA_LIMIT}`, {
      hint: 'Put large files on a volume, or fetch them from the guest; keep scripts small.',
    });
  }
  return gz;
}

/**
 * context.sh as the guests read it: `NAME='value'` lines. OpenNebula 3 wrote `NAME="value"`
 * unescaped, so a `"`, `$` or backtick in a value ran in the guest; here every value is
 * single-quoted, with `'` written as `'\''`, so bash (cloud-init runs the file with it) and the
 * ttylinux agent (which parses it without a shell) both read back exactly the value.
 */
export function contextScript(vars: ContextVariables): string {
  const lines = ['# Context variables generated by Stratus'];
  for (const [name, value] of vars) lines.push(`${name}='${value.replace(/'/g, "'\\''")}'`);
  const text = lines.join('\n') + '\n';
  const size = Buffer.byteLength(text);
  if (size > CONTEXT_SCRIPT_LIMIT) {
    throw new StratusError('CONTEXT_TOO_LARGE', `the context is ${size} bytes, over the limit of ${CONTEXT_SCRIPT_LIMIT}`, {
      hint: 'Keep context values small: user-data is limited to 16 KiB gzipped; put large files on a volume.',
    });
  }
  return text;
}

/** The context CD: an ISO 9660 image labelled CONTEXT holding context.sh. */
export function buildContextCd(input: OneContextInput): Buffer {
  return buildIso(ONE_CONTEXT_LABEL, [{ name: 'context.sh', data: Buffer.from(contextScript(oneContextVariables(input))) }]);
}
