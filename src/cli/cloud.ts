import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { Command } from 'commander';
import { StratusError } from '../domain/errors.js';
import { CloudClient } from '../client/cloud-client.js';
import { MARKETPLACE_ENDPOINT } from './program.js';
import type { Context } from './program.js';
import { cloudEndpoint } from './user-config.js';
import { pdiskCredentials } from './pdisk.js';

/** --endpoint and the credentials of §1.0, for the instance commands. */
export function addCloudOptions(program: Command): Command {
  return program
    .option('--endpoint <url>', 'the cloud service (env STRATUSLAB_ENDPOINT, config endpoint; a bare host means https://<host>:2634; falls back to pdisk_endpoint, then marketplace_endpoint)')
    .option('-u, --username <name>', 'account name (env STRATUSLAB_USERNAME, config username)')
    .option('-p, --password <password>', 'password (env STRATUSLAB_PASSWORD, config password; prompted when only a username is known)');
}

export interface CloudOptionValues {
  endpoint?: string;
  username?: string;
  password?: string;
  marketplaceEndpoint?: string;
}

/** The cloud service URL: endpoint, else pdisk_endpoint, else a configured Marketplace (one server). */
export function cloudUrl(ctx: Context, o: CloudOptionValues): string {
  const endpoint = ctx.setting({ key: 'endpoint' }, o.endpoint);
  if (endpoint) return cloudEndpoint(endpoint);
  const pdisk = ctx.setting({ key: 'pdisk_endpoint' });
  if (pdisk) return cloudEndpoint(pdisk);
  if (ctx.config.origin(MARKETPLACE_ENDPOINT, o.marketplaceEndpoint) !== 'default') return cloudEndpoint(ctx.setting(MARKETPLACE_ENDPOINT, o.marketplaceEndpoint) as string);
  throw new StratusError('USAGE', 'no cloud endpoint', { hint: 'Give --endpoint (or set STRATUSLAB_ENDPOINT, or endpoint in ~/.stratuslab/stratuslab-user.cfg).' });
}

export async function cloudClient(ctx: Context, o: CloudOptionValues): Promise<CloudClient> {
  const endpoint = cloudUrl(ctx, o);
  return new CloudClient(endpoint, await pdiskCredentials(ctx, o, endpoint));
}

/** VM IDs from the arguments and -i/--input (one per line); none at all is StratusLab's error. */
export function vmIds(args: string[], input: string | undefined): string[] {
  const ids = [...args];
  if (input) {
    let text: string;
    try {
      text = readFileSync(input, 'utf8');
    } catch (e) {
      throw new StratusError('FILE_NOT_FOUND', `cannot read ${input}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    ids.push(...text.split('\n').map((l) => l.trim()).filter(Boolean));
  }
  if (ids.length === 0) throw new StratusError('USAGE', 'Missing vm-id or input file (-i/--input)');
  return ids;
}

/** `~` at the start of a path, as the shell would have expanded it in StratusLab's defaults. */
export function homePath(path: string): string {
  return path.startsWith('~/') ? `${homedir()}${path.slice(1)}` : path;
}

/** The SSH public key file: -k/--key, else STRATUSLAB_KEY or the config's `key`, else ~/.ssh/id_rsa.pub. */
export function publicKeyPath(ctx: Context, given?: string): string {
  return homePath(given ?? ctx.setting({ key: 'key' }) ?? '~/.ssh/id_rsa.pub');
}

/**
 * The private key to log in with: `givenPrivate` (connect-instance's -k names it), else the
 * public key's path without .pub, as StratusLab's client took it.
 */
export function privateKeyPath(ctx: Context, givenPrivate?: string, givenPublic?: string): string {
  return givenPrivate !== undefined ? homePath(givenPrivate) : publicKeyPath(ctx, givenPublic).replace(/\.pub$/, '');
}
