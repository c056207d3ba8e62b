#!/usr/bin/env node
// Runs every compiled *.test.js under node:test. Node 20 expands no globs and treats every .js
// under a folder named test/ as a test, so the list is built here, explicitly.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = ['dist/src', 'dist/test', 'dist/scripts'];
const only = process.argv.slice(2);
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js') && (only.length === 0 || only.some((o) => p.includes(o)))) files.push(p);
  }
};
for (const r of roots) { try { walk(r); } catch { /* folder absent */ } }
files.sort();
if (files.length === 0) { console.error('no test files found; run npm run build first'); process.exit(1); }
const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=2', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
