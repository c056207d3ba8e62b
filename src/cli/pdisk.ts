import { Option } from 'commander';
import type { Command } from 'commander';
import { requireTag } from '../domain/volume.js';
import type { VolumeType } from '../domain/volume.js';
import { StratusError } from '../domain/errors.js';
import { PdiskClient } from '../client/pdisk-client.js';
import type { Credentials } from '../client/pdisk-client.js';
import { MARKETPLACE_ENDPOINT } from './program.js';
import type { Context } from './program.js';
import { pdiskEndpoint } from './user-config.js';
import { promptSecret } from './prompt.js';

/** -u/-p and the pdisk endpoint options of reference §1.0. */
export function addPdiskOptions(program: Command): Command {
  return program
    .option('-u, --username <name>', 'account name (env STRATUSLAB_USERNAME, config username)')
    .option('-p, --password <password>', 'password (env STRATUSLAB_PASSWORD, config password; prompted when only a username is known)')
    .option('--pdisk-endpoint <url>', 'disk service URL (env STRATUSLAB_PDISK_ENDPOINT; falls back to endpoint, then marketplace_endpoint)')
    .option('--pdisk-username <name>', 'account for the disk service when it differs (env STRATUSLAB_PDISK_USERNAME)')
    .option('--pdisk-password <password>', 'password for --pdisk-username (env STRATUSLAB_PDISK_PASSWORD)');
}

export interface PdiskOptionValues {
  /** When the command also has --marketplace-endpoint, it is the last fallback (one server). */
  marketplaceEndpoint?: string;
  username?: string;
  password?: string;
  pdiskEndpoint?: string;
  pdiskUsername?: string;
  pdiskPassword?: string;
}

/** The disk service URL: pdisk_endpoint, else endpoint, else the Marketplace's (one server). */
export function pdiskUrl(ctx: Context, o: PdiskOptionValues): string {
  const raw = ctx.setting({ key: 'pdisk_endpoint' }, o.pdiskEndpoint)
    ?? ctx.setting({ key: 'endpoint' })
    ?? ctx.setting(MARKETPLACE_ENDPOINT, o.marketplaceEndpoint);
  return pdiskEndpoint(raw as string);
}

function pdiskUsername(ctx: Context, o: PdiskOptionValues): string | undefined {
  return ctx.setting({ key: 'pdisk_username' }, o.pdiskUsername) ?? ctx.setting({ key: 'username' }, o.username);
}

/** The account when one is configured; undefined means anonymous, which reads PUBLIC volumes only. */
export async function optionalPdiskCredentials(ctx: Context, o: PdiskOptionValues, endpoint: string): Promise<Credentials | undefined> {
  return pdiskUsername(ctx, o) ? pdiskCredentials(ctx, o, endpoint) : undefined;
}

/** Credentials by CLI > env > file, pdisk-specific ones first; prompts for a missing password. */
export async function pdiskCredentials(ctx: Context, o: PdiskOptionValues, endpoint: string): Promise<Credentials> {
  const username = pdiskUsername(ctx, o);
  if (!username) {
    throw new StratusError('AUTH_REQUIRED', 'no username for the disk service', {
      hint: 'Give -u/--username (or set STRATUSLAB_USERNAME, or username in ~/.stratuslab/stratuslab-user.cfg).',
    });
  }
  const password = (o.pdiskUsername || ctx.setting({ key: 'pdisk_username' }))
    ? ctx.setting({ key: 'pdisk_password' }, o.pdiskPassword)
    : ctx.setting({ key: 'password' }, o.password);
  return { username, password: password ?? await promptSecret(`'${username}' at '${endpoint}' password: `) };
}

export async function pdiskClient(ctx: Context, o: PdiskOptionValues): Promise<PdiskClient> {
  const endpoint = pdiskUrl(ctx, o);
  return new PdiskClient(endpoint, await pdiskCredentials(ctx, o, endpoint));
}

/** StratusLab's volume type flags (§1.2), as commander names them, and the type each sets. */
const TYPE_FLAGS: Array<[flag: string, key: string, type: VolumeType]> = [
  ['--machine-image-origin', 'machineImageOrigin', 'MACHINE_IMAGE_ORIGIN'],
  ['--machine-image-live', 'machineImageLive', 'MACHINE_IMAGE_LIVE'],
  ['--data-image-origin', 'dataImageOrigin', 'DATA_IMAGE_ORIGIN'],
  ['--data-image-live', 'dataImageLive', 'DATA_IMAGE_LIVE'],
  ['--data-image-raw-readonly', 'dataImageRawReadonly', 'DATA_IMAGE_RAW_READONLY'],
  ['--data-image-raw-read-write', 'dataImageRawReadWrite', 'DATA_IMAGE_RAW_READ_WRITE'],
];

/** -t/--tag, --public/--private and the type flags, shared by update-volume and upload-image. */
export function addVolumeFieldOptions(program: Command, tagHelp = 'volume tag (at most 40 characters)'): Command {
  program
    .option('-t, --tag <name>', tagHelp)
    .addOption(new Option('--public', 'everyone can use the volume').conflicts('private'))
    .addOption(new Option('--private', 'only you (and admins) can use the volume'));
  const keys = TYPE_FLAGS.map(([, key]) => key);
  for (const [flag, key, type] of TYPE_FLAGS) {
    program.addOption(new Option(flag, `set the volume type to ${type}`).conflicts(keys.filter((k) => k !== key)));
  }
  return program;
}

/** The tag, visibility and type the options give; only what was given is sent. */
export function volumeFieldsFrom(o: Record<string, unknown>): { tag?: string; visibility?: string; type?: string } {
  const f: { tag?: string; visibility?: string; type?: string } = {};
  if (typeof o.tag === 'string') f.tag = requireTag(o.tag);
  if (o.public === true) f.visibility = 'PUBLIC';
  if (o.private === true) f.visibility = 'PRIVATE';
  const chosen = TYPE_FLAGS.find(([, key]) => o[key] === true);
  if (chosen) f.type = chosen[2];
  return f;
}
