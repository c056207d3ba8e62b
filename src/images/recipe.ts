import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { StratusError } from '../domain/errors.js';

/**
 * A base-image recipe: recipes/<name>/recipe.json says what the image is (its Marketplace
 * metadata and the packages it is built from) and recipes/<name>/build.sh builds it.
 */
export interface Recipe {
  name: string;
  dir: string;
  title: string;
  description: string;
  os: string;
  osVersion: string;
  osArch: string;
  version: string;
  /** The kernel package (build.sh gets it as KERNEL_PACKAGE). */
  kernel: string;
  /** Debian packages the image is built from; their dependency closure keys the cache. */
  packages: string[];
  inboundPorts: number[];
  disksBus: 'virtio' | 'ide' | 'scsi';
  /** How to boot it in tests and benchmarks. */
  boot: { memoryMiB: number; vcpus: number; sshUser: string };
}

/** recipes/ in the repository, whatever folder the code runs from. */
export function defaultRecipesDir(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, 'recipes')) && existsSync(join(dir, 'package.json'))) return join(dir, 'recipes');
    const up = join(dir, '..');
    if (up === dir || dir === '/') throw new StratusError('CONFIG_INVALID', 'cannot find the recipes/ folder', { hint: 'Pass --recipes-dir.' });
    dir = up;
  }
}

export function listRecipes(recipesDir: string): string[] {
  return readdirSync(recipesDir).filter((n) => existsSync(join(recipesDir, n, 'recipe.json'))).sort();
}

export function loadRecipe(recipesDir: string, name: string): Recipe {
  const dir = join(recipesDir, name);
  const file = join(dir, 'recipe.json');
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name) || !existsSync(file)) {
    const known = existsSync(recipesDir) ? listRecipes(recipesDir) : [];
    throw new StratusError('USAGE', `no recipe '${name}' in ${recipesDir}`, { hint: `Known recipes: ${known.join(', ') || 'none'}.` });
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new StratusError('CONFIG_INVALID', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  const str = (k: string): string => {
    const v = raw[k];
    if (typeof v !== 'string' || !v) throw new StratusError('CONFIG_INVALID', `${file}: "${k}" must be a non-empty string`);
    return v;
  };
  const packages = raw.packages;
  if (!Array.isArray(packages) || packages.length === 0 || !packages.every((p) => typeof p === 'string')) {
    throw new StratusError('CONFIG_INVALID', `${file}: "packages" must list the Debian packages the image is built from`);
  }
  if (!existsSync(join(dir, 'build.sh'))) throw new StratusError('CONFIG_INVALID', `recipe ${name} has no build.sh`);
  const boot = (raw.boot ?? {}) as Record<string, unknown>;
  return {
    name, dir,
    title: str('title'), description: str('description'), os: str('os'), osVersion: str('osVersion'), osArch: str('osArch'), version: str('version'), kernel: typeof raw.kernel === 'string' ? raw.kernel : 'linux-image-cloud-amd64',
    packages: packages as string[],
    inboundPorts: Array.isArray(raw.inboundPorts) ? (raw.inboundPorts as number[]) : [22],
    disksBus: (raw.disksBus as Recipe['disksBus']) ?? 'virtio',
    boot: { memoryMiB: Number(boot.memoryMiB ?? 256), vcpus: Number(boot.vcpus ?? 1), sshUser: String(boot.sshUser ?? 'root') },
  };
}

/** Hash of every file of the recipe (and of the shared recipes/lib), for the cache key. */
export function recipeDigest(recipe: Recipe): string {
  const h = createHash('sha256');
  const lib = join(recipe.dir, '..', 'lib');
  for (const root of [recipe.dir, ...(existsSync(lib) ? [lib] : [])]) {
    for (const f of walk(root)) h.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex');
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
