import { homedir } from 'node:os';
import { join } from 'node:path';

/** The server's data dir unless given: $STRATUS_DATA_DIR, else ~/.stratus. */
export function defaultDataDir(): string {
  return process.env.STRATUS_DATA_DIR || join(homedir(), '.stratus');
}

/** Where `stratus serve` keeps the password it generated for the admin account. */
export function adminPasswordFile(dataDir: string): string {
  return join(dataDir, 'admin-password');
}

/** The cache root: $STRATUS_CACHE_DIR, else ~/.cache/stratus (outside any clone). */
export function cacheRoot(): string {
  return process.env.STRATUS_CACHE_DIR || join(homedir(), '.cache', 'stratus');
}
