import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../platform/files.js';
import { run } from '../platform/run.js';

/**
 * The exact versions apt would install for `packages` and everything they depend on (the
 * closure over Depends and Pre-Depends), from the host's package lists. Base-image builds are
 * cached under a key made of the recipe and these versions, so a new upload to the archive
 * (a security fix deep in the closure) makes a new image and nothing else does.
 */
async function resolveVersions(packages: string[]): Promise<Map<string, string>> {
  const closure = new Set<string>();
  const depends = await run('apt-cache', ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts',
    '--no-breaks', '--no-replaces', '--no-enhances', ...packages], { timeoutMs: 120_000 });
  // Every package the recursion reached is printed once at the start of a line.
  for (const line of depends.stdout.split('\n')) {
    const name = /^([a-z0-9][a-z0-9+.-]+)(?::any)?$/.exec(line)?.[1];
    if (name) closure.add(name);
  }
  for (const p of packages) closure.add(p);
  const versions = new Map<string, string>();
  const names = [...closure].sort();
  for (let i = 0; i < names.length; i += 200) {
    const policy = await run('apt-cache', ['policy', ...names.slice(i, i + 200)], { timeoutMs: 120_000 });
    let current: string | undefined;
    for (const line of policy.stdout.split('\n')) {
      const head = /^(\S+):$/.exec(line);
      if (head) current = head[1];
      const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
      if (current && cand && cand[1] !== '(none)') versions.set(current, cand[1] as string);
    }
  }
  return versions;
}

/**
 * What apt's answer depends on: the package lists, sources and pinning. Names, sizes and
 * modification times are enough: `apt-get update` rewrites what it changes.
 */
function aptStateStamp(root = '/'): string {
  const h = createHash('sha256');
  for (const dir of ['var/lib/apt/lists', 'etc/apt', 'etc/apt/sources.list.d', 'etc/apt/preferences.d']) {
    let names: string[];
    try {
      names = readdirSync(join(root, dir)).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const st = statSync(join(root, dir, n), { throwIfNoEntry: false });
      if (st?.isFile()) h.update(`${dir}/${n}\0${st.size}\0${st.mtimeMs}\n`);
    }
  }
  return h.digest('hex');
}

/**
 * resolveVersions, remembered in `memoDir` until apt's state changes: resolving the closure
 * costs apt-cache a second or two, and a cached build should cost nothing.
 */
export async function cachedVersions(packages: string[], memoDir: string,
  resolve: (p: string[]) => Promise<Map<string, string>> = resolveVersions, aptRoot = '/'): Promise<Map<string, string>> {
  const key = createHash('sha256').update(JSON.stringify([...packages].sort())).update(aptStateStamp(aptRoot)).digest('hex').slice(0, 32);
  const file = join(memoDir, `${key}.json`);
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>));
  } catch {
    // not remembered yet (or unreadable): resolve below
  }
  const versions = await resolve(packages);
  if (versions.size > 0) {
    mkdirSync(memoDir, { recursive: true });
    writeFileAtomic(file, JSON.stringify(Object.fromEntries(versions)));
  }
  return versions;
}
