import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { StratusError } from '../../domain/errors.js';
import { shellQuote } from '../../platform/ssh.js';

/** One -s/--scripts entry: a local script and the words to call it with. */
export interface ScriptEntry {
  /** The entry as given (`setup.sh arg1 arg2`), as messages name it. */
  text: string;
  path: string;
  args: string[];
  /** Where it is copied: /tmp/<basename> (§3 step 13). */
  remotePath: string;
  /** Its bytes, read once: what is run is what the step cache keyed. */
  bytes: Buffer;
}

/** Splits -s/--scripts into entries (comma-separated; each `path arg…`, split on blanks), without reading them. */
export function splitScripts(text: string | undefined): Array<{ text: string; path: string; args: string[] }> {
  return (text ?? '').split(',').map((e) => e.trim()).filter(Boolean).map((entry) => {
    const [path = '', ...args] = entry.split(/\s+/);
    return { text: entry, path, args };
  });
}

/**
 * -s/--scripts, each script checked and read before any VM starts: a script that is missing
 * or unreadable would otherwise be found out after minutes of booting.
 */
export function readScripts(text: string | undefined): ScriptEntry[] {
  return splitScripts(text).map((s) => {
    const where = `script ${s.path} (-s/--scripts)`;
    let isFile: boolean;
    try {
      isFile = statSync(s.path).isFile();
      accessSync(s.path, constants.R_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new StratusError('FILE_NOT_FOUND', `${where}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : (e as Error).message}`, {
        hint: 'Give each script as PATH [ARG…], separated by commas; the path is relative to the current directory.',
      });
    }
    if (!isFile) throw new StratusError('FILE_NOT_FOUND', `${where}: not a regular file`);
    return { ...s, remotePath: `/tmp/${basename(s.path)}`, bytes: readFileSync(s.path) };
  });
}

/** The remote command running a copied script with its arguments, each one word. */
export function scriptCommand(s: Pick<ScriptEntry, 'remotePath' | 'args'>): string {
  return [s.remotePath, ...s.args].map(shellQuote).join(' ');
}
