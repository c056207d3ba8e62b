/**
 * Issue 8 §5, deep nesting, performed against a real `stratus serve`: 100,000 nested elements
 * gave "500 Maximum call stack size exceeded"; now every route that reads XML answers 400
 * XML_TOO_DEEP (the cap is 64 levels, and every walk keeps its own stack), and the server
 * goes on answering. The local validator refuses such a file the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { runCli } from '../helpers/cli.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { signAsIs, unsigned } from '../helpers/forge.js';
import { dataDirWithConfig, postEntry } from '../helpers/upload.js';

const dir = tempDir('stratus-sec-nesting-');
const signer = makeSigner(dir, 'Deep Diver', 'diver@example.org');
// The size limit is set so that the depth cap, not the size cap, is what a 700 KB body meets.
const server = await startServerProcess(dataDirWithConfig(dir, 'data', '[marketplace]\nmax_metadata_bytes = 1048576\n'));

const LEVELS = 100_000;
const nested = (levels: number, inner = 'x'): string => '<a>'.repeat(levels) + inner + '</a>'.repeat(levels);

async function assertStillServing(): Promise<void> {
  const listing = await fetch(`${server.url}/metadata?media=json`);
  assert.equal(listing.status, 200);
  await listing.arrayBuffer();
  const upload = await postEntry(server.url, signedXml(signer, draft()));
  assert.equal(upload.status, 201, upload.body);
}

test('100,000 nested elements answer 400 XML_TOO_DEEP, and the server still answers', async () => {
  const answer = await postEntry(server.url, `<?xml version="1.0"?>${nested(LEVELS)}`);
  assert.equal(answer.status, 400, answer.body);
  assert.equal(answer.code, 'XML_TOO_DEEP');
  assert.match(answer.message, /^metadata nests elements more than 64 levels deep \(level 65 opens at line 1, column \d+\)$/);
  await assertStillServing();
});

test('deep nesting inside a correctly signed entry answers 400 too', async () => {
  const deep = signAsIs(unsigned(signedXml(signer, draft())).replace('</rdf:Description>', `${nested(LEVELS)}</rdf:Description>`), signer.credentials);
  const answer = await postEntry(server.url, deep);
  assert.equal(answer.status, 400, answer.body);
  assert.equal(answer.code, 'XML_TOO_DEEP');
  await assertStillServing();
});

test('the upload form (multipart) answers 400 for the same body', async () => {
  const form = new FormData();
  form.append('Metadata File', new Blob([nested(LEVELS)], { type: 'application/xml' }), 'deep.xml');
  const res = await fetch(`${server.url}/metadata`, { method: 'POST', body: form, headers: { Accept: 'application/json' } });
  const body = await res.text();
  assert.equal(res.status, 400, body);
  assert.equal(res.headers.get('x-stratus-error'), 'XML_TOO_DEEP');
  await assertStillServing();
});

test('ten deep uploads at once leave the server answering', async () => {
  const answers = await Promise.all(Array.from({ length: 10 }, () => postEntry(server.url, nested(LEVELS))));
  assert.deepEqual(answers.map((a) => a.status), Array(10).fill(400));
  await assertStillServing();
});

test('stratus-validate-metadata refuses a deep file with the same reason, not a crash', async () => {
  const file = join(dir, 'deep.xml');
  writeFileSync(file, nested(LEVELS));
  const r = await runCli(['validate-metadata', file], { home: dir });
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /deep\.xml nests elements more than 64 levels deep/);
  assert.doesNotMatch(r.stdout + r.stderr, /Maximum call stack|RangeError/);
});
