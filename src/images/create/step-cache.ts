import { createHash } from 'node:crypto';
import type { Installer, Repo } from './installers.js';
import type { ScriptEntry } from './scripts.js';

/**
 * The step cache of stratus-create-image: after each finished step (the package step, each
 * script) the cloud keeps a qcow2 layer of the VM's disk under a key the client computes from
 * everything that made the disk so far, so a rerun boots from the last layer it has and runs
 * only the steps after it.
 */
export interface LayerApi {
  /** Whether the caller already has a layer with this key. */
  hasLayer(key: string): Promise<boolean>;
  /** Freezes the running VM's disk as layer `key` (the client runs `sync` in the guest first). */
  saveLayer(vmId: number, key: string): Promise<void>;
}

/** The chain's start: the base image's Marketplace identifier (the SHA-1 of its bytes, so its content). */
export function baseKey(baseId: string): string {
  return `base:${baseId}`;
}

/**
 * sha256(previous key, step content), in hex. Each part is length-prefixed, so no two
 * different (previous, content) lists hash the same bytes (`ab`+`c` is not `a`+`bc`).
 */
export function stepKey(previous: string, content: Array<string | Buffer>): string {
  const h = createHash('sha256');
  for (const part of [previous, ...content]) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    h.update(`${bytes.length}:`);
    h.update(bytes);
  }
  return h.digest('hex');
}

/**
 * The package step's content: the installer family, the repositories and the packages, each
 * list sorted (the order they are given in changes nothing apt or yum installs).
 */
export function packagesContent(installer: Installer, repos: Repo[], packages: string[]): string[] {
  const sorted = (xs: string[]): string => JSON.stringify([...new Set(xs)].sort());
  return ['packages', installer, sorted(repos.map((r) => [r.url, ...r.words].join(' '))), sorted(packages)];
}

/** A script step's content: its bytes and its arguments (its name or path does not change what it does). */
export function scriptContent(s: Pick<ScriptEntry, 'bytes' | 'args'>): Array<string | Buffer> {
  return ['script', s.bytes, JSON.stringify(s.args)];
}

/** A step the cache can skip: its key chains all the steps before it. */
export interface CachedStep {
  key: string;
  /** The step line (`Installing user packages`, `Executing user script <s>`). */
  label: string;
}

/** The keys of the steps in order, each chained on the one before. */
export function chainKeys(baseId: string, contents: Array<Array<string | Buffer>>): string[] {
  const keys: string[] = [];
  let previous = baseKey(baseId);
  for (const content of contents) {
    previous = stepKey(previous, content);
    keys.push(previous);
  }
  return keys;
}

/**
 * How many steps a rerun may skip: the index after the last step whose layer the cloud has
 * (a later layer holds every step before it, whether or not their own layers are still kept).
 */
export async function resumePoint(keys: string[], has: (key: string) => Promise<boolean>): Promise<number> {
  for (let i = keys.length - 1; i >= 0; i--) if (await has(keys[i] as string)) return i + 1;
  return 0;
}
