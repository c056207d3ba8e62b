import { Command, CommanderError } from 'commander';
import { StratusError } from '../domain/errors.js';
import { VERSION } from '../domain/version.js';
import { MarketplaceAnswerError } from '../client/marketplace-client.js';
import { UserConfig } from './user-config.js';
import type { SettingSpec } from './user-config.js';
import { consoleOutput, printErrorLine } from './output.js';
import type { Output } from './output.js';

export { VERSION };

function increase(_v: string, prev: number): number {
  return prev + 1;
}

/**
 * A command with the options every StratusLab command has (reference §1.0): -v/--verbose and
 * -q/--quiet (counting), --version, --help; and, for commands that read the user config,
 * -c/--config and -S/--user-config-section.
 */
export function newProgram(name: string, summary: string, opts: { userConfig?: boolean } = {}): Command {
  const program = new Command(name)
    .description(summary)
    .version(VERSION, '--version')
    .option('-v, --verbose', 'more output; repeat for more detail (-vvv shows traces)', increase, 0)
    .option('-q, --quiet', 'less output; repeat for less', increase, 0)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });
  if (opts.userConfig !== false) {
    program
      .option('-c, --config <file>', 'user configuration file (default ~/.stratuslab/stratuslab-user.cfg)')
      .option('-S, --user-config-section <name>', 'configuration section to use on top of [default] (env STRATUSLAB_USER_CONFIG_SECTION)');
  }
  return program;
}

/** What a command's action needs: how to print, and user settings with their precedence. */
export interface Context {
  output: Output;
  config: UserConfig;
  /** A setting: the CLI value when given, then STRATUSLAB_<KEY>, then the config file, then the default. */
  setting(spec: SettingSpec, cliValue?: string): string | undefined;
}

export function contextOf(program: Command): Context {
  const o = program.opts<{ verbose: number; quiet: number; config?: string; userConfigSection?: string }>();
  const config = UserConfig.load({
    ...(o.config !== undefined ? { configFile: o.config } : {}),
    ...(o.userConfigSection !== undefined ? { section: o.userConfigSection } : {}),
  });
  return {
    output: consoleOutput((o.verbose ?? 0) - (o.quiet ?? 0)),
    config,
    setting: (spec, cliValue) => config.get(spec, cliValue),
  };
}

/**
 * Parses and runs a command and turns every failure into StratusLab's output: known errors
 * print "  [ERROR] message" plus a hint and exit 1; unexpected ones print "Error: reason"
 * and exit 255; Ctrl-C prints the old goodbye.
 */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  const onSigint = (): void => {
    process.stderr.write('\n\nExecution interrupted by the user... goodbye!\n');
    void finishCleanups().then(() => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    // What fails while the clean-ups run (a command cut off by them) is the interruption's echo.
    if (interrupting) return new Promise<number>(() => undefined);
    const verbose = (program.opts<{ verbose?: number }>().verbose ?? 0);
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof MarketplaceAnswerError || (e instanceof StratusError && (e.code === 'MARKETPLACE_ERROR' || e.code === 'MARKETPLACE_UNREACHABLE'))) {
      // StratusLab's top-level handler printed server failures this way, with status 255.
      process.stderr.write(`Error: ${e.message}\n  hint: ${e.hint}\n`);
      return 255;
    }
    if (e instanceof StratusError) {
      printErrorLine(consoleOutput(), e.message, e.hint);
      if (verbose > 2 && e.stack) process.stderr.write(e.stack + '\n');
      return 1;
    }
    process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (verbose > 2 && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
    return 255;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

const cleanups = new Set<() => Promise<void>>();

/** SIGTERM, while clean-ups are registered: they run, then the process exits as a SIGTERM would have ended it. */
const onSigterm = (): void => void finishCleanups().then(() => process.exit(143));

/**
 * Work that must be done even when the command is interrupted (Ctrl-C or SIGTERM), such as
 * killing a VM the command started: it runs before the process exits. Returns its removal. A
 * second Ctrl-C during the clean-up ends the process at once. SIGTERM is caught only while
 * there is a clean-up, so commands with their own handling (stratus serve) keep it.
 */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  if (cleanups.size === 0) process.once('SIGTERM', onSigterm);
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
    if (cleanups.size === 0) process.removeListener('SIGTERM', onSigterm);
  };
}

let interrupting = false;

async function finishCleanups(): Promise<void> {
  interrupting = true;
  await Promise.allSettled([...cleanups].map((c) => c()));
}

/** The Marketplace endpoint setting shared by the metadata commands. */
export const MARKETPLACE_ENDPOINT: SettingSpec = { key: 'marketplace_endpoint', default: 'https://marketplace.stratuslab.eu' };
export const P12_CERTIFICATE: SettingSpec = { key: 'p12_certificate', env: 'STRATUSLAB_P12_CERTIFICATE' };
export const P12_PASSWORD: SettingSpec = { key: 'p12_password', env: 'STRATUSLAB_P12_PASSWORD' };
