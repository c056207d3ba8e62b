#!/usr/bin/env node
import { basename } from 'node:path';
import { commands } from './commands.js';

/**
 * One entry point for every command. Installed as `stratus` and as each `stratus-<verb>`
 * name; the name it was started under picks the command, so `stratus-upload-metadata x`
 * and `stratus upload-metadata x` are the same.
 */
async function main(): Promise<number> {
  const invoked = basename(process.argv[1] ?? 'stratus').replace(/\.(js|ts)$/, '');
  let name: string | undefined;
  let args = process.argv.slice(2);
  if (invoked.startsWith('stratus-')) {
    name = invoked.slice('stratus-'.length);
  } else {
    name = args[0];
    args = args.slice(1);
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write('0.1.0\n');
    return 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`  [ERROR] unknown command '${name}'\n  hint: run 'stratus --help' for the list\n`);
    return 2;
  }
  const mod = await load();
  return mod.default(args);
}

function usage(): string {
  const names = Object.keys(commands).sort();
  return `usage: stratus <command> [options]   (or stratus-<command> [options])\n\ncommands:\n${names.map((n) => `  ${n}`).join('\n')}\n\nEvery command takes --help.\n`;
}

main().then((code) => {
  process.exitCode = code;
}, (e: unknown) => {
  process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 255;
});
