/**
 * User settings resolved the StratusLab way (reference §1.0 and §9.1). The order is
 * CLI > environment > config file > built-in default.
 *
 * - The file is `~/.stratuslab/stratuslab-user.cfg`, or the one given with `-c/--config`.
 *   A missing default file counts as an empty config. A missing `-c` file is an error.
 * - An existing file must have a `[default]` section.
 * - The selected section comes from `-S/--user-config-section`, else
 *   `STRATUSLAB_USER_CONFIG_SECTION`, else `selected_section` in `[default]`. It is laid over
 *   `[default]`.
 * - Config key `foo_bar` maps to env `STRATUSLAB_FOO_BAR` and to option name `fooBar`.
 *
 * Empty strings: an empty environment variable or an empty value in the file counts as
 * "not set", so the next layer applies. The reference file leaves keys such as
 * `pdisk_endpoint =` empty, and StratusLab only let a config value fill options that were
 * empty. A value given on the command line always wins, even when it is empty.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { DEFAULT_SECTION, interpolate, parseIni, type IniSections } from '../platform/ini.js';

export interface SettingSpec {
  /** snake_case config key, e.g. 'marketplace_endpoint'. */
  key: string;
  /** Environment variable; defaults to STRATUSLAB_<KEY upper>. */
  env?: string;
  default?: string;
}

export interface UserConfigSource {
  /** `-c/--config`; when absent, ~/.stratuslab/stratuslab-user.cfg (which may be missing). */
  configFile?: string;
  /** `-S/--user-config-section`. */
  section?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to os.homedir(). */
  home?: string;
}

export type SettingOrigin = 'cli' | 'env' | 'file' | 'default' | 'unset';

export const SECTION_ENV = 'STRATUSLAB_USER_CONFIG_SECTION';

/** `~/.stratuslab/stratuslab-user.cfg` under `home`. */
export function defaultConfigPath(home: string = homedir()): string {
  return join(home, '.stratuslab', 'stratuslab-user.cfg');
}

/** `foo_bar` -> `STRATUSLAB_FOO_BAR`. */
export function envVarFor(key: string): string {
  return `STRATUSLAB_${key.toUpperCase()}`;
}

/** `foo_bar` -> `fooBar` (the option name the old client derived from a config key). */
export function optionNameFor(key: string): string {
  return key.toLowerCase().replace(/_+([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** `fooBar` -> `foo_bar`, the reverse of optionNameFor. */
export function configKeyFor(optionName: string): string {
  return optionName.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function invalid(message: string, hint?: string): StratusError {
  return new StratusError('CONFIG_INVALID', message, hint === undefined ? {} : { hint });
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

export class UserConfig {
  /** Absolute path of the file that was read; undefined when no file was read. */
  readonly file?: string;
  /** The selected section laid over [default], if any. */
  readonly section?: string;
  private readonly env: NodeJS.ProcessEnv;
  /** [default] overlaid with the selected section, interpolated. */
  private readonly values: Map<string, string>;
  private readonly sections: IniSections;

  private constructor(file: string | undefined, section: string | undefined, env: NodeJS.ProcessEnv, values: Map<string, string>, sections: IniSections) {
    if (file !== undefined) this.file = file;
    if (section !== undefined) this.section = section;
    this.env = env;
    this.values = values;
    this.sections = sections;
  }

  static load(src: UserConfigSource = {}): UserConfig {
    const env = src.env ?? process.env;
    const explicit = src.configFile !== undefined;
    const path = resolve(src.configFile ?? defaultConfigPath(src.home ?? homedir()));

    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        if (explicit) throw invalid(`config file not found: ${path}`, 'Check the -c/--config path, or leave -c out to use ~/.stratuslab/stratuslab-user.cfg.');
      } else {
        throw invalid(`cannot read config file ${path}: ${(e as Error).message}`, 'Check that the file is readable.');
      }
    }

    // Which section is selected, and who selected it (for the error message).
    let selected: string | undefined;
    let selectedBy = '';
    if (nonEmpty(src.section) !== undefined) {
      selected = src.section;
      selectedBy = '-S/--user-config-section';
    } else if (nonEmpty(env[SECTION_ENV]) !== undefined) {
      selected = env[SECTION_ENV];
      selectedBy = SECTION_ENV;
    }

    if (text === undefined) {
      if (selected !== undefined) {
        throw invalid(`section [${selected}] selected by ${selectedBy}, but there is no config file (${path})`, 'Create the file (stratus-copy-config) with that section, or drop the selection.');
      }
      return new UserConfig(undefined, undefined, env, new Map(), new Map());
    }

    const sections = parseIni(text, path);
    const defaults = sections.get(DEFAULT_SECTION);
    if (defaults === undefined) {
      throw invalid(`${path}: the [${DEFAULT_SECTION}] section is missing; it is mandatory`, 'Add a [default] line at the top of the file.');
    }
    if (selected === undefined) {
      const fromFile = nonEmpty(interpolate(sections, DEFAULT_SECTION, 'selected_section'));
      if (fromFile !== undefined) {
        selected = fromFile;
        selectedBy = `selected_section in [${DEFAULT_SECTION}] of ${path}`;
      }
    }
    if (selected !== undefined && !sections.has(selected)) {
      const known = [...sections.keys()].map((s) => `[${s}]`).join(', ');
      throw invalid(`section [${selected}] selected by ${selectedBy} does not exist in ${path} (it has ${known})`, 'Section names are case-sensitive; fix the name or add the section.');
    }

    const context = selected ?? DEFAULT_SECTION;
    const keys = new Set([...defaults.keys(), ...(sections.get(context)?.keys() ?? [])]);
    const values = new Map<string, string>();
    for (const key of keys) {
      const v = interpolate(sections, context, key);
      if (v !== undefined) values.set(key, v);
    }
    return new UserConfig(path, selected, env, values, sections);
  }

  private resolve(spec: SettingSpec, cliValue: string | undefined): { value: string | undefined; origin: SettingOrigin } {
    if (cliValue !== undefined) return { value: cliValue, origin: 'cli' };
    const fromEnv = nonEmpty(this.env[spec.env ?? envVarFor(spec.key)]);
    if (fromEnv !== undefined) return { value: fromEnv, origin: 'env' };
    const fromFile = nonEmpty(this.values.get(spec.key.toLowerCase()));
    if (fromFile !== undefined) return { value: fromFile, origin: 'file' };
    if (spec.default !== undefined) return { value: spec.default, origin: 'default' };
    return { value: undefined, origin: 'unset' };
  }

  /** cliValue wins when defined; then env; then file; then spec.default. */
  get(spec: SettingSpec, cliValue?: string): string | undefined {
    return this.resolve(spec, cliValue).value;
  }

  /** Where the winning value came from, for -v diagnostics. */
  origin(spec: SettingSpec, cliValue?: string): SettingOrigin {
    return this.resolve(spec, cliValue).origin;
  }

  /**
   * The interpolated keys of one section on its own, without the [default] overlay. For
   * side tables such as [instance_types] (§2.1). Undefined when the section is absent.
   */
  sectionValues(name: string): Map<string, string> | undefined {
    const raw = this.sections.get(name);
    if (raw === undefined) return undefined;
    const out = new Map<string, string>();
    for (const key of raw.keys()) out.set(key, interpolate(this.sections, name, key) ?? '');
    return out;
  }
}

// ---------------------------------------------------------------------------------------
// Endpoint sanitising (§1.0)

const SCHEME_RE = /^[a-z][a-z0-9+.-]*:\/\//i;
/** host (name, IPv4, or [IPv6]), optional :port, optional /path. No user info, no spaces. */
const HOST_PORT_RE = /^(\[[0-9a-f:.]+\]|[^\s/:@?#[\]]+)(?::(\d{1,5}))?(\/\S*)?$/i;

function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Shared rules. With a scheme (http or https only), the value is kept and trailing slashes
 * are stripped. Without one:
 * - `host` becomes `https://host:<defaultPort>`, the StratusLab behaviour;
 * - `host:port` keeps its port. It gets http when the host is a loopback host (localhost,
 *   127.x.x.x, [::1]) and https otherwise.
 *
 * Why the port rule: StratusLab pasted `:<defaultPort>` after whatever was given, so
 * `localhost:8081` became the broken `https://localhost:8081:80`. A user who writes a port
 * means that port. A service on loopback with its own port is nearly always a local
 * development server without TLS, so it gets http. Everywhere else we keep https rather than
 * send anything in clear text. A bare `localhost`, with no port, still follows the
 * documented rule for compatibility.
 */
function sanitiseEndpoint(raw: string, defaultPort: number, what: string): string {
  const value = raw.trim();
  if (SCHEME_RE.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw invalid(`${what} ${JSON.stringify(value)} is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw invalid(`${what} ${JSON.stringify(value)} must use http or https, not ${url.protocol.slice(0, -1)}`);
    }
    return value.replace(/\/+$/, '');
  }
  const m = HOST_PORT_RE.exec(value);
  const host = m?.[1];
  const port = m?.[2];
  if (m === null || host === undefined || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
    throw invalid(`${what} ${JSON.stringify(value)} is neither a URL nor host[:port]`, 'Give a URL such as https://host:port, or a host name.');
  }
  const path = (m[3] ?? '').replace(/\/+$/, '');
  if (port === undefined) return `https://${host}:${defaultPort}${path}`;
  return `${isLoopback(host) ? 'http' : 'https'}://${host}:${port}${path}`;
}

/**
 * Marketplace endpoint: trailing slashes stripped; a value with no scheme becomes
 * `https://<host>:80` (the documented StratusLab quirk: https on port 80), except that
 * `host:port` keeps its port (http for loopback hosts, https otherwise; see sanitiseEndpoint).
 */
export function marketplaceEndpoint(raw: string): string {
  return sanitiseEndpoint(raw, 80, 'marketplace endpoint');
}

/** pdisk endpoint: like marketplaceEndpoint, but a bare host becomes `https://<host>:8445`. */
export function pdiskEndpoint(raw: string): string {
  return sanitiseEndpoint(raw, 8445, 'pdisk endpoint');
}

/** Cloud endpoint (§1.0): a bare host becomes `https://<host>:2634` (without /xmlrpc: Stratus speaks JSON there). */
export function cloudEndpoint(raw: string): string {
  return sanitiseEndpoint(raw, 2634, 'cloud endpoint').replace(/\/xmlrpc$/, '');
}
