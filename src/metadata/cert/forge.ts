import { createRequire } from 'node:module';
import type * as Forge from 'node-forge';

let loaded: typeof Forge | undefined;

/**
 * node-forge, loaded on first use (PKCS#12 files only). Loaded at start-up by every command
 * that signs or downloads, it made `stratus-download-image` of a 1 GiB image about a second
 * slower (3.7 s → 4.7 s, measured in docs/benchmarks.md) although the download never calls it.
 */
export function forge(): typeof Forge {
  loaded ??= createRequire(import.meta.url)('node-forge') as typeof Forge;
  return loaded;
}

export type { Forge };
