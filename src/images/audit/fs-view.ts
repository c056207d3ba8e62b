import { spawn } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StratusError } from '../../domain/errors.js';

/** A directory entry as the audit sees it. */
export interface Entry {
  name: string;
  type: 'file' | 'dir' | 'link' | 'other';
  size: number;
  /** Permission bits (with set-id and sticky bits), owner and group: what a file rewritten in place keeps. */
  mode: number;
  uid: number;
  gid: number;
}

/**
 * A read-only view of an image's root file system. The audit asks for whole directories and
 * files in batches, so that a view over a tool (debugfs) pays its start-up once per batch.
 */
export interface FsView {
  /** Each directory's entries (without . and ..), or undefined when it is missing or not a directory. */
  list(dirs: string[]): Promise<Map<string, Entry[] | undefined>>;
  /** Each regular file's bytes (at most `max` of them), or undefined when missing or not a regular file. */
  read(paths: string[], max?: number): Promise<Map<string, Buffer | undefined>>;
}

/** Files the audit reads are configuration: a bigger one is read up to here (keys and configs are far smaller). */
export const READ_LIMIT = 256 * 1024;

/**
 * An ext2/3/4 file system inside an image file, read with e2fsprogs' debugfs (no mount, no
 * root, nothing of the image's ever executed): `offset` is the partition's start in bytes.
 * Paths are quoted for debugfs's own parser, and names with a quote or a newline (which it
 * cannot quote) are never asked for. Files are dumped into a private temporary folder and read
 * back without following links, so a symlink in the image never reaches a file of this host.
 */
export class DebugfsView implements FsView {
  /** Every listing made, so that read() does not list a file's folder again. */
  private readonly listed = new Map<string, Entry[] | undefined>();

  constructor(private readonly image: string, private readonly offset: number) {}

  async list(dirs: string[]): Promise<Map<string, Entry[] | undefined>> {
    const asked = dirs.filter(safePath);
    const out = await this.batch(asked.map((d) => `ls -p "${d}"`));
    const result = new Map<string, Entry[] | undefined>(dirs.map((d) => [d, undefined]));
    asked.forEach((dir, i) => {
      const text = out[i] ?? '';
      // /inode/mode/uid/gid/name/size/ (a missing directory has no lines)
      const lines = text.split('\n').map((l) => /^\/(\d+)\/(\d+)\/(\d+)\/(\d+)\/(.*)\/(\d*)\/$/.exec(l)).filter((m) => m !== null);
      if (lines.length === 0) return;
      const entries: Entry[] = [];
      for (const m of lines) {
        const name = m[5] as string;
        if (name === '.' || name === '..') continue;
        const bits = parseInt(m[2] as string, 8);
        const kind = bits & 0o170000;
        const type = kind === 0o100000 ? 'file' : kind === 0o040000 ? 'dir' : kind === 0o120000 ? 'link' : 'other';
        entries.push({ name, type, size: Number(m[6] || 0), mode: bits & 0o7777, uid: Number(m[3]), gid: Number(m[4]) });
      }
      result.set(dir, entries);
    });
    for (const [dir, entries] of result) this.listed.set(dir, entries);
    return result;
  }

  async read(paths: string[], max = READ_LIMIT): Promise<Map<string, Buffer | undefined>> {
    const result = new Map<string, Buffer | undefined>(paths.map((p) => [p, undefined]));
    const unlisted = [...new Set(paths.filter(safePath).map(parentOf))].filter((d) => !this.listed.has(d));
    if (unlisted.length > 0) await this.list(unlisted);
    const wanted = paths.filter((p) => safePath(p) && this.listed.get(parentOf(p))?.some((e) => e.name === baseOf(p) && e.type === 'file'));
    if (wanted.length === 0) return result;
    const dir = mkdtempSync(join(tmpdir(), 'stratus-audit-'));
    try {
      await this.batch(wanted.map((p, i) => `dump "${p}" "${join(dir, String(i))}"`));
      wanted.forEach((p, i) => {
        const local = join(dir, String(i));
        try {
          if (!lstatSync(local).isFile()) return;
          const bytes = readFileSync(local);
          result.set(p, bytes.length > max ? bytes.subarray(0, max) : bytes);
        } catch {
          // not dumped: left undefined
        }
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return result;
  }

  private batch(commands: string[]): Promise<string[]> {
    return runDebugfs(this.image, this.offset, commands);
  }
}

/**
 * Runs debugfs once on the file system at `offset` in `image` with `commands` (read-only unless
 * `writable`); returns each command's output, in order.
 */
export function runDebugfs(image: string, offset: number, commands: string[], writable = false): Promise<string[]> {
  if (commands.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const child = spawn('debugfs', [...(writable ? ['-w'] : []), '-f', '-', `${image}?offset=${offset}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    // Only stdout: it holds each command's echo and output in order. Its complaints ("File not
    // found by ext2_lookup") go to stderr, and mixing the two pipes' chunks cut lines apart.
    let text = '';
    child.stdout.on('data', (d: Buffer) => { text += d.toString('latin1'); });
    child.stderr.resume();
    child.on('error', (e: NodeJS.ErrnoException) => reject(new StratusError('TOOL_FAILED', `cannot run debugfs: ${e.code === 'ENOENT' ? 'not installed (Debian package e2fsprogs)' : e.message}`)));
    child.on('close', () => {
      // debugfs echoes each command read from a file as "debugfs: <command>".
      const parts = text.split(/^debugfs: /m).slice(1);
      resolve(commands.map((c) => {
        const part = parts.find((p) => p.startsWith(c));
        if (part) parts.splice(parts.indexOf(part), 1);
        return part ? part.slice(c.length) : '';
      }));
    });
    child.stdin.end(commands.join('\n') + '\n');
  });
}

/** debugfs cannot quote a double quote or a line break; such names are treated as absent. */
export function safePath(p: string): boolean {
  return p.startsWith('/') && !/["\n\r\\]/.test(p);
}

export function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

export function baseOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
