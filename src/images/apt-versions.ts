import { run } from '../platform/run.js';

/**
 * The exact versions apt would install for `packages` and everything they depend on (the
 * closure over Depends and Pre-Depends), from the host's package lists. Base-image builds are
 * cached under a key made of the recipe and these versions, so a new upload to the archive
 * (a security fix deep in the closure) makes a new image and nothing else does.
 */
export async function resolveVersions(packages: string[]): Promise<Map<string, string>> {
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
