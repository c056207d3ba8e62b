import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cacheRoot } from '../platform/data-dir.js';
import { join } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { identifierFromSha1 } from '../domain/identifier.js';
import { hashFile } from '../platform/hashing.js';
import { cachedVersions } from './apt-versions.js';
import { recipeDigest } from './recipe.js';
import type { Recipe } from './recipe.js';

/** What a finished build left in the cache, next to disk.img. */
export interface BuiltImage {
  recipe: string;
  key: string;
  path: string;
  bytes: number;
  allocatedBytes: number;
  md5: string;
  sha1: string;
  sha256: string;
  sha512: string;
  identifier: string;
  buildSeconds: number;
  built: string;
  versions: Record<string, string>;
  /** True when this call built it; false when it came from the cache. */
  fresh?: boolean;
}


/**
 * The cache key of a recipe: its files plus the exact versions of every package in the
 * closure of its package list. Same key, same image: a second build is a lookup.
 */
async function cacheKey(recipe: Recipe): Promise<{ key: string; versions: Map<string, string> }> {
  const versions = await cachedVersions(recipe.packages, join(cacheRoot(), 'apt-versions'));
  if (versions.size === 0) throw new StratusError('TOOL_FAILED', `apt knows none of the packages of recipe ${recipe.name}`, { hint: 'Run apt-get update.' });
  const h = createHash('sha256').update(recipeDigest(recipe));
  for (const [p, v] of [...versions].sort()) h.update(`${p}=${v}\n`);
  return { key: h.digest('hex').slice(0, 20), versions };
}

export interface BuildOptions {
  /** Rebuild even when the cache has this key. */
  force?: boolean;
  /** Each line the build prints (its steps), for progress. */
  onLine?: (line: string) => void;
}

/** Builds a recipe unless the cache already holds its key; returns the cached image. */
export async function buildImage(recipe: Recipe, opts: BuildOptions = {}): Promise<BuiltImage> {
  const { key, versions } = await cacheKey(recipe);
  const dir = join(cacheRoot(), 'images', recipe.name, key);
  const manifestFile = join(dir, 'manifest.json');
  if (!opts.force && existsSync(manifestFile) && existsSync(join(dir, 'disk.img'))) {
    return { ...(JSON.parse(readFileSync(manifestFile, 'utf8')) as BuiltImage), path: join(dir, 'disk.img'), fresh: false };
  }
  const debs = join(cacheRoot(), 'debs');
  mkdirSync(debs, { recursive: true });
  const work = join(cacheRoot(), 'images', recipe.name, `.build-${randomBytes(4).toString('hex')}`);
  mkdirSync(work, { recursive: true });
  const started = Date.now();
  try {
    await runBuildScript(recipe, work, debs, opts.onLine);
    const disk = join(work, 'disk.img');
    if (!existsSync(disk)) throw new StratusError('TOOL_FAILED', `recipe ${recipe.name}: build.sh finished without writing disk.img`);
    const digests = await hashFile(disk, { algorithms: ['md5', 'sha1', 'sha256', 'sha512'], compression: 'none' });
    const st = statSync(disk);
    const built: BuiltImage = {
      recipe: recipe.name, key, path: join(dir, 'disk.img'), bytes: st.size, allocatedBytes: st.blocks * 512,
      md5: digests.digests.md5 as string, sha1: digests.digests.sha1 as string, sha256: digests.digests.sha256 as string, sha512: digests.digests.sha512 as string,
      identifier: identifierFromSha1(digests.digests.sha1 as string), buildSeconds: (Date.now() - started) / 1000,
      built: new Date().toISOString(), versions: Object.fromEntries(versions),
    };
    writeFileSync(join(work, 'manifest.json'), JSON.stringify(built, null, 2) + '\n');
    for (const leftover of ['rootfs', 'work', 'tmp']) rmSync(join(work, leftover), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    return { ...built, fresh: true };
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

/** Runs recipes/<name>/build.sh OUTDIR with DEBS set, streaming its lines; fails with its last words. */
function runBuildScript(recipe: Recipe, out: string, debs: string, onLine?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(recipe.dir, 'build.sh'), out], {
      cwd: recipe.dir,
      env: { ...process.env, DEBS: debs, KERNEL_PACKAGE: recipe.kernel, PACKAGES: recipe.packages.join(' '), INBOUND_PORTS: recipe.inboundPorts.join(' '), LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const tail: string[] = [];
    const take = (d: Buffer): void => {
      for (const line of d.toString().split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 12) tail.shift();
        onLine?.(line);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    // Interrupted: stop the whole build (its QEMU or mmdebstrap children too), not just bash.
    const stop = (): void => {
      try { process.kill(-(child.pid as number), 'SIGTERM'); } catch { /* gone */ }
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    child.on('error', (e) => reject(new StratusError('TOOL_FAILED', `cannot run the build of ${recipe.name}: ${e.message}`)));
    child.on('close', (code) => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      if (code === 0) resolve();
      else reject(new StratusError('TOOL_FAILED', `building recipe ${recipe.name} failed (exit ${code}):\n    ${tail.join('\n    ')}`, {
        hint: 'The lines above are the end of the build output; fix the recipe or the missing package and build again.',
      }));
    });
  });
}
