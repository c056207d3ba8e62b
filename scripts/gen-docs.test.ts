import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorsMarkdown } from './gen-docs.js';
import { repoRoot } from '../test/helpers/paths.js';
import { NO_LINK, commands } from '../src/main/commands.js';

test('docs/errors.md is generated from the current catalogue (run node dist/scripts/gen-docs.js)', () => {
  assert.equal(readFileSync(join(repoRoot, 'docs', 'errors.md'), 'utf8'), errorsMarkdown());
});

test('package.json installs a stratus-<name> link for every command', () => {
  const bins = Object.keys((JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin).sort();
  const expected = ['stratus', ...Object.keys(commands).filter((c) => !NO_LINK.has(c)).map((c) => `stratus-${c}`)].sort();
  assert.deepEqual(bins, expected);
});
