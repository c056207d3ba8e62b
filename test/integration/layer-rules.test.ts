import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ESLint } from 'eslint';
import { repoRoot } from '../helpers/paths.js';

/** The no-restricted-imports messages ESLint gives `code` as if it were the file at `path`. */
async function importErrors(path: string, code: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: repoRoot }).lintText(code, { filePath: join(repoRoot, path) });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('cli/ and compute/ reach images/ only through images/index.ts; images/ reaches neither', async () => {
  assert.deepEqual(await importErrors('src/cli/commands/probe.ts', "import { fetchImage } from '../../images/index.js';\nexport const x = fetchImage;\n"), []);
  const internal = await importErrors('src/cli/commands/probe.ts', "import { receive } from '../../images/transfer/receive.js';\nimport { buildImage } from '../../images/builder.js';\nexport const x = [receive, buildImage];\n");
  assert.equal(internal.length, 2);
  assert.match(internal[0] ?? '', /cli\/ may import images\/ only through images\/index\.ts/);
  assert.equal((await importErrors('src/compute/probe.ts', "import { PartFiles } from '../images/transfer/part.js';\nexport const x = PartFiles;\n")).length, 1);
  assert.equal((await importErrors('src/images/probe.ts', "import { printInfo } from '../cli/output.js';\nexport const x = printInfo;\n")).length, 1);
  assert.equal((await importErrors('src/images/probe.ts', "import { launchInstance } from '../compute/launch.js';\nexport const x = launchInstance;\n")).length, 1);
});

test('dist/src ships no node:test code outside the unit tests', () => {
  const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
  // Built from the sources there are now (a dist/ built earlier may hold files since moved).
  const built = walk(join(repoRoot, 'src')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(repoRoot, 'dist', relative(repoRoot, f)).replace(/\.ts$/, '.js'));
  assert.ok(built.length > 100);
  assert.deepEqual(built.filter((f) => /from 'node:test'/.test(readFileSync(f, 'utf8'))), []);
});
