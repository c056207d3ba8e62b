/**
 * The set-up most VM tests share: a temp dir, a `stratus serve` on a data dir in it (the admin's
 * password preset, the real image cache), an SSH key, and a CLI runner per account.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { runCli } from './cli.js';
import type { CliResult } from './cli.js';
import { startServerProcess } from './server.js';
import type { ServerProcess } from './server.js';
import { tempDir } from './tmp.js';
import { sshKey } from './vm.js';

export interface Account {
  username: string;
  password: string;
}

export const ADMIN: Account = { username: 'admin', password: 'admin-pass-1' };
export const ALICE: Account = { username: 'alice', password: 'alice-pass-1' };
export const BOB: Account = { username: 'bob', password: 'bob-pass-1' };

export interface VmCloud {
  dir: string;
  dataDir: string;
  env: Record<string, string>;
  server: ServerProcess;
  key: ReturnType<typeof sshKey>;
  /** Runs a stratus-* command as `who`, against this server, with the temp dir as HOME. */
  as(who: Account): (args: string[]) => Promise<CliResult>;
}

export async function vmCloud(serverArgs: string[] = []): Promise<VmCloud> {
  const dir = tempDir();
  const dataDir = join(dir, 'data');
  const env = { STRATUS_ADMIN_PASSWORD: ADMIN.password, STRATUS_CACHE_DIR: cacheRoot() };
  const server = await startServerProcess(dataDir, serverArgs, env);
  const key = sshKey(dir);
  return {
    dir, dataDir, env, server, key,
    as: (who) => (args) => runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: who.username, STRATUSLAB_PASSWORD: who.password } }),
  };
}

/**
 * A temp dir and a data dir in it whose stratus.cfg puts instances on a bridge of their own,
 * `<prefix><6 hex digits>`, with the package proxy on a port derived from the same digits.
 * The proxy runs as its own user: its folder must be reachable through the test's private one.
 */
export function bridgeDataDir(prefix: string): { dir: string; dataDir: string; bridge: string } {
  const dir = tempDir();
  chmodSync(dir, 0o711);
  const dataDir = join(dir, 'data');
  const tag = randomBytes(3).toString('hex');
  const bridge = `${prefix}${tag}`;
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'stratus.cfg'), `[network]\nmode = bridge\nbridge = ${bridge}\nproxy_port = ${20000 + (parseInt(tag, 16) % 12000)}\nproxy_dir = ${join(dir, 'proxy')}\n`);
  return { dir, dataDir, bridge };
}
