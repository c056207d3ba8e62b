/**
 * Writes docs/errors.md from the error catalogue, so the documented codes are the ones the
 * code raises. A test fails when the committed file is stale: run `node dist/scripts/gen-docs.js`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorCatalogue } from '../src/domain/errors.js';
import { repoRoot } from '../test/helpers/paths.js';

export function errorsMarkdown(): string {
  const rows = Object.entries(errorCatalogue).map(([code, e]) => `| \`${code}\` | ${e.status} | ${e.description} | ${e.hint} |`);
  return `# Error catalogue\n\nGenerated from \`src/domain/errors.ts\` by \`scripts/gen-docs.ts\`; do not edit by hand.\n\n`
    + 'Every failure carries one of these stable codes. The CLI prints `  [ERROR] <message>` and the hint, and exits 1\n'
    + '(server failures print `Error: <message>` and exit 255, as StratusLab did). The API answers with the status below,\n'
    + 'the header `X-Stratus-Error: <code>`, and a body in the representation the client asked for.\n\n'
    + '| Code | HTTP | Meaning | Hint |\n|---|---|---|---|\n' + rows.join('\n') + '\n';
}

if (process.argv[1]?.endsWith('gen-docs.js')) {
  writeFileSync(join(repoRoot, 'docs', 'errors.md'), errorsMarkdown());
  process.stdout.write('wrote docs/errors.md\n');
}
