#!/usr/bin/env node
// `npm run bench [name…]`: runs the benchmarks under dist/bench (built by npm run setup),
// one after another so they do not compete for the two cores. Not part of npm test.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const only = process.argv.slice(2);
const all = readdirSync('dist/bench').filter((f) => f.endsWith('.js') && !['lib.js', 'server.js'].includes(f));
for (const f of all.filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))) {
  process.stdout.write(`\n# bench/${f.replace(/\.js$/, '.ts')}\n`);
  const r = spawnSync(process.execPath, [`dist/bench/${f}`], { stdio: 'inherit' });
  if (r.status !== 0) process.exitCode = 1;
}
