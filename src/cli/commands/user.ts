import type { Command } from 'commander';
import { StratusError } from '../../domain/errors.js';
import type { PdiskClient } from '../../client/pdisk-client.js';
import type { UserInfo } from '../../domain/wire.js';
import { newProgram, runProgram, contextOf } from '../program.js';
import type { Context } from '../program.js';
import { addPdiskOptions, pdiskClient } from '../pdisk.js';
import type { PdiskOptionValues } from '../pdisk.js';
import { promptSecret, readLine } from '../prompt.js';

/**
 * `stratus user …`: account management on the server, as an admin (or, for passwd, as the
 * account itself). Connects like the pdisk commands; a new password is never an option
 * value (it would show in `ps` and shell history): it comes from stdin or a prompt.
 */
export default async function main(argv: string[]): Promise<number> {
  const program = addPdiskOptions(newProgram('stratus user', 'Manage the accounts of a Stratus server (admin only, except passwd for your own account).'))
    // The connection options belong to `stratus user`; show them in each subcommand's help too.
    .configureHelp({ showGlobalOptions: true });
  // Read once the options are parsed, i.e. from inside an action.
  let context: Context | undefined;
  const ctx = (): Context => (context ??= contextOf(program));
  const connect = (): Promise<PdiskClient> => pdiskClient(ctx(), program.opts<PdiskOptionValues>());
  const print = (s: string): void => ctx().output.out(s);

  program.command('add')
    .description('create an account')
    .argument('<name>', 'account name (letters, digits, . _ @ -)')
    .option('--admin', 'the account is an admin: it sees and changes every volume and account')
    .option('--quota-gib <n>', 'at most this many GiB of volumes (default: no limit)', quotaValue)
    .option('--quota-volumes <n>', 'at most this many volumes (default: no limit)', quotaValue)
    .option('--password-stdin', "read the account's password from the first line of stdin")
    .action(async (name: string, o: { admin?: boolean; quotaGib?: number | null; quotaVolumes?: number | null; passwordStdin?: boolean }) => {
      const fromStdin = o.passwordStdin ? await stdinPassword() : undefined;
      const client = await connect();
      const password = fromStdin ?? await promptNewPassword(name);
      await client.addUser({ username: name, password, admin: o.admin === true, quotaGib: o.quotaGib ?? null, quotaVolumes: o.quotaVolumes ?? null });
      print(`ADDED ${name}`);
    });

  program.command('list')
    .description('list the accounts')
    .option('--json', 'print the accounts as a JSON array')
    .action(async (o: { json?: boolean }) => {
      const users = await (await connect()).users();
      print(o.json ? JSON.stringify(users, null, 2) : table(users));
    });

  program.command('passwd')
    .description("change an account's password")
    .argument('<name>', 'account name')
    .option('--password-stdin', 'read the new password from the first line of stdin')
    .action(async (name: string, o: { passwordStdin?: boolean }) => {
      const fromStdin = o.passwordStdin ? await stdinPassword() : undefined;
      const client = await connect();
      await client.passwd(name, fromStdin ?? await promptNewPassword(name));
      print(`CHANGED ${name}`);
    });

  program.command('remove')
    .description('delete an account; refused while it owns volumes or mounts, unless --force')
    .argument('<name>', 'account name')
    .option('--force', "hand the account's volumes and mounts to the admin account, then delete it")
    .action(async (name: string, o: { force?: boolean }) => {
      const r = await (await connect()).removeUser(name, { force: o.force === true });
      print(`REMOVED ${name}`);
      // Laid out like QUOTA's line: one "kind: count" pair per kind of holding.
      const held = Object.entries(r.handedOver ?? {});
      if (held.some(([, n]) => n > 0)) print(`HANDED OVER to ${r.heir} ${held.map(([what, n]) => `${what}: ${n}`).join(' ')}`);
    });

  program.command('quota')
    .description("set an account's volume quota; 'none' removes a limit")
    .argument('<name>', 'account name')
    .option('--gib <n|none>', 'total GiB of volumes', quotaValue)
    .option('--volumes <n|none>', 'number of volumes', quotaValue)
    .action(async (name: string, o: { gib?: number | null; volumes?: number | null }, cmd: Command) => {
      if (o.gib === undefined && o.volumes === undefined) throw new StratusError('USAGE', `${cmd.name()}: give --gib and/or --volumes`);
      const u = await (await connect()).setQuota(name, o);
      print(`QUOTA ${u.username} gib: ${limit(u.quotaGib)} volumes: ${limit(u.quotaVolumes)}`);
    });

  return runProgram(program, argv);
}

/** A whole number ≥ 0, or null for no limit ('none' or 'unlimited'). */
function quotaValue(v: string): number | null {
  if (v === 'none' || v === 'unlimited') return null;
  if (!/^\d+$/.test(v)) throw new StratusError('USAGE', `a quota is a whole number ≥ 0 or 'none', not '${v}'`);
  return Number(v);
}

function limit(n: number | null): string {
  return n === null ? 'none' : String(n);
}

/**
 * The first line of stdin. What follows it is pushed back, so the admin's own password may
 * come on the next line when it is not in -p, the environment or the config.
 */
async function stdinPassword(): Promise<string> {
  if (process.stdin.isTTY) return promptSecret('Password: ');
  const line = await readLine(process.stdin);
  if (!line) throw new StratusError('USAGE', 'no password on stdin', { hint: 'With --password-stdin, write the password as the first line of stdin.' });
  return line;
}

/** Asked twice on a terminal, so a typo does not lock the account out. */
async function promptNewPassword(name: string): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new StratusError('USAGE', `no password for ${name}`, { hint: 'Run it on a terminal to be prompted, or pass --password-stdin and write the password to stdin.' });
  }
  const first = await promptSecret(`New password for '${name}': `);
  const second = await promptSecret(`Retype the password for '${name}': `);
  if (first !== second) throw new StratusError('USAGE', 'the passwords do not match; nothing was changed');
  return first;
}

function table(users: UserInfo[]): string {
  const rows = [['name', 'admin', 'quota GiB', 'quota volumes', 'created'],
    ...users.map((u) => [u.username, u.admin ? 'yes' : 'no', limit(u.quotaGib), limit(u.quotaVolumes), u.created])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
