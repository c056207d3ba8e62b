import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename } from 'node:path';
import { gzipSync } from 'node:zlib';
import { StratusError } from '../domain/errors.js';
import { multipart } from './mime.js';
import { USER_DATA_LIMIT } from './nocloud.js';

/** One `mimetype,filename` pair of `--cloud-init` or `stratus-prepare-context` (reference §8.1). */
export interface ContextPair {
  mimetype: string;
  file: string;
}


/**
 * Parses pairs: trimmed, empty items ignored, exactly one comma each. `--cloud-init` separates
 * them with `#`; prepare-context takes one per argument (pass them as separate items).
 */
export function parsePairs(items: string[]): ContextPair[] {
  const pairs: ContextPair[] = [];
  for (const raw of items.flatMap((i) => i.split('#'))) {
    const item = raw.trim();
    if (!item) continue;
    const parts = item.split(',');
    if (parts.length !== 2 || !parts[0]?.trim() || !parts[1]?.trim()) {
      throw new StratusError('USAGE', `invalid CloudInit mimetype pair: '${item}'`, { hint: "Write each as mimetype,file, e.g. ssh,$HOME/.ssh/id_rsa.pub or x-shellscript,run-http.sh ('#' between pairs with --cloud-init)." });
    }
    pairs.push({ mimetype: (parts[0] as string).trim(), file: expandPath((parts[1] as string).trim()) });
  }
  return pairs;
}

/**
 * `~` and `$VAR`/`${VAR}` are expanded. The guide writes `--cloud-init 'ssh,$HOME/.ssh/…'` in
 * single quotes, so the shell never expands it; StratusLab's code used names literally and that
 * example failed (docs/compat.md). An unset variable is an error, not an empty string.
 */
export function expandPath(path: string, env: NodeJS.ProcessEnv = process.env): string {
  const tilde = path === '~' || path.startsWith('~/') ? homedir() + path.slice(1) : path;
  return tilde.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare) as string;
    const value = env[name];
    if (value === undefined) throw new StratusError('USAGE', `context file ${path}: the variable $${name} is not set`, { hint: `Set ${name}, or write the path out in full.` });
    return value;
  });
}

/** What a context carries: the authorized keys text and the user-data bytes (either may be empty). */
export interface CloudInitContext {
  authorizedKeys: string;
  userData: Buffer;
}

/**
 * Builds the context from pairs: every `ssh` file's keys (lines trimmed, `Comment:` lines
 * dropped, joined with newlines, one more newline per file), and the user-data: the **last**
 * `none` file literally, as the guide says (StratusLab's code took the first; docs/compat.md),
 * otherwise a multipart with one `text/<mimetype>` part per file, in order.
 */
export function buildContext(pairs: ContextPair[], read: (file: string) => Buffer = readContextFile): CloudInitContext {
  let authorizedKeys = '';
  const parts: Array<{ type: string; content: string; filename: string }> = [];
  let literal: Buffer | undefined;
  for (const p of pairs) {
    const bytes = read(p.file);
    if (p.mimetype === 'ssh') {
      // As Python's readlines(): a final newline ends the last line, it does not start another.
      const raw = bytes.toString('utf8').split('\n');
      if (raw[raw.length - 1] === '') raw.pop();
      const lines = raw.map((l) => l.trim()).filter((l) => !l.startsWith('Comment:'));
      authorizedKeys += lines.join('\n') + '\n';
    } else if (p.mimetype === 'none') {
      literal = bytes;
    } else {
      parts.push({ type: `text/${p.mimetype}`, content: bytes.toString('utf8'), filename: basename(p.file) });
    }
  }
  const userData = literal ?? (parts.length ? Buffer.from(multipart(parts), 'utf8') : Buffer.alloc(0));
  return { authorizedKeys, userData };
}

export function readContextFile(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StratusError('FILE_NOT_FOUND', `context file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`, {
      hint: 'Check the path in the mimetype,file pair.',
    });
  }
}

/** user-data as StratusLab carried it: base64 of gzip level 9 (no file name), within the limit. */
export function encodeUserData(userData: Buffer): string {
  const gz = gzipSync(userData, { level: 9 });
  if (gz.length > USER_DATA_LIMIT) {
    throw new StratusError('CONTEXT_TOO_LARGE', `multipart size (${gz.length}) exceeds limit (${USER_DATA_LIMIT})`, {
      hint: 'Keep scripts and cloud-config small; put large files on a volume or fetch them from the guest.',
    });
  }
  return gz.toString('base64');
}

/** The key/value lines of a cloud-init context (a line only when it has content). */
export function contextLines(ctx: CloudInitContext): string[] {
  const lines = ['CONTEXT_METHOD=cloud-init'];
  if (ctx.authorizedKeys) lines.push(`CLOUD_INIT_AUTHORIZED_KEYS=${Buffer.from(ctx.authorizedKeys, 'utf8').toString('base64')}`);
  if (ctx.userData.length) lines.push(`CLOUD_INIT_USER_DATA=${encodeUserData(ctx.userData)}`);
  return lines;
}

/** `cloud-init.txt` as stratus-prepare-context writes it: the lines, each ended, and one more newline. */
export function contextFileText(ctx: CloudInitContext): string {
  return contextLines(ctx).map((l) => `${l}\n`).join('') + '\n';
}
