import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StratusError } from '../../domain/errors.js';
import type { Finding } from './checks.js';
import { baseOf, parentOf, runDebugfs, safePath } from './fs-view.js';
import type { Entry, FsView } from './fs-view.js';

/**
 * What `stratus-check-image --sysprep` changes to clear the audit's fixable findings, planned
 * from the findings and the file system's own listings: files removed, folders emptied, and
 * two files rewritten (the shadow file with its passwords locked, an empty machine-id).
 */
export interface SysprepPlan {
  /** Files and links to delete. */
  remove: string[];
  /** Folders to delete once emptied, deepest first. */
  removeDirs: string[];
  /** Files given new bytes; their mode, owner and group are kept. */
  rewrite: Array<{ path: string; content: Buffer; entry: Entry }>;
}

/** /var/lib/cloud can hold anything an attacker put there: a bigger tree is refused rather than walked for ever. */
const CLOUD_STATE_MAX = 20_000;
const CLOUD_DIR = '/var/lib/cloud';
const KEPT_IN_CLOUD_DIR: ReadonlySet<string> = new Set(['seed', 'scripts']);

export async function sysprepPlan(fs: FsView, findings: Finding[]): Promise<SysprepPlan> {
  const plan: SysprepPlan = { remove: [], removeDirs: [], rewrite: [] };
  const fixing = findings.filter((f) => f.fixable && f.severity !== 'info');
  const listed = new Map<string, Entry[] | undefined>();
  const entryOf = async (path: string): Promise<Entry | undefined> => {
    const dir = parentOf(path);
    if (!listed.has(dir)) listed.set(dir, (await fs.list([dir])).get(dir));
    return listed.get(dir)?.find((e) => e.name === baseOf(path));
  };
  const rewrite = async (path: string, content: (old: string) => string): Promise<void> => {
    if (plan.rewrite.some((r) => r.path === path)) return;
    const entry = await entryOf(path);
    const old = (await fs.read([path], Number.MAX_SAFE_INTEGER)).get(path);
    if (entry?.type !== 'file' || old === undefined) return;
    plan.rewrite.push({ path, entry, content: Buffer.from(content(old.toString('utf8'))) });
  };
  for (const f of fixing) {
    switch (f.check) {
      case 'host-keys': {
        plan.remove.push(f.path);
        if ((await entryOf(`${f.path}.pub`))?.type === 'file') plan.remove.push(`${f.path}.pub`);
        break;
      }
      case 'machine-id':
        // systemd makes a new one at boot when the file is empty; a missing one is not made on a read-only root.
        if (f.path === '/etc/machine-id') await rewrite(f.path, () => '');
        else plan.remove.push(f.path);
        break;
      case 'passwords':
        await rewrite(f.path, lockPasswords);
        break;
      case 'cloud-state':
        await planCloudState(fs, plan);
        break;
      default:
        plan.remove.push(f.path);
    }
  }
  plan.remove = [...new Set(plan.remove)];
  return plan;
}

/** Every account's password hash, or empty password, replaced by "!" (locked); locked and disabled ones kept. */
export function lockPasswords(shadow: string): string {
  return shadow.split('\n').map((line) => {
    const fields = line.split(':');
    if (fields.length < 2 || !fields[0] || /^[*!]/.test(fields[1] as string)) return line;
    fields[1] = '!';
    return fields.join(':');
  }).join('\n');
}

/**
 * Nearly `cloud-init clean`: everything under /var/lib/cloud but the folders the image's maker
 * fills (seed, and scripts/per-boot|per-instance|per-once), which are content, not state.
 */
async function planCloudState(fs: FsView, plan: SysprepPlan): Promise<void> {
  let level = [CLOUD_DIR];
  const dirs: string[] = [];
  let count = 0;
  while (level.length) {
    const listed = await fs.list(level);
    const next: string[] = [];
    for (const [dir, entries] of listed) {
      for (const e of entries ?? []) {
        if (dir === CLOUD_DIR && KEPT_IN_CLOUD_DIR.has(e.name)) continue;
        const path = `${dir}/${e.name}`;
        if (++count > CLOUD_STATE_MAX) {
          throw new StratusError('IMAGE_UNSAFE', `${CLOUD_DIR} holds more than ${CLOUD_STATE_MAX} entries: too many to clean offline`, {
            hint: 'Run "cloud-init clean" in the image (start it with --save, then shut it down).',
          });
        }
        if (e.type === 'dir') {
          dirs.push(path);
          next.push(path);
        } else {
          plan.remove.push(path);
        }
      }
    }
    level = next;
  }
  plan.removeDirs.push(...dirs.reverse());
}

/**
 * Carries out `plan` on the ext file system at `offset` in the raw `image` (a private copy:
 * debugfs -w, no mount). The new contents of rewritten files pass through `work`. Paths
 * debugfs cannot quote are left alone; the audit run afterwards finds them.
 */
export async function applySysprep(image: string, offset: number, plan: SysprepPlan, work: string): Promise<void> {
  const commands: string[] = [];
  plan.rewrite.filter((r) => safePath(r.path)).forEach((r, i) => {
    const local = join(work, `rewrite-${i}`);
    writeFileSync(local, r.content);
    commands.push(`rm "${r.path}"`, `write "${local}" "${r.path}"`, `sif "${r.path}" mode 0${(0o100000 | r.entry.mode).toString(8)}`,
      `sif "${r.path}" uid ${r.entry.uid}`, `sif "${r.path}" gid ${r.entry.gid}`);
  });
  for (const p of plan.remove.filter(safePath)) commands.push(`rm "${p}"`);
  for (const d of plan.removeDirs.filter(safePath)) commands.push(`rmdir "${d}"`);
  await runDebugfs(image, offset, commands, true);
}
