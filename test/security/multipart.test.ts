/**
 * Malformed multipart/form-data bodies against a real `stratus serve` (they answered 500): no
 * boundary, a boundary that never appears, a body cut off before its closing boundary. Each is
 * the client's fault, 400 MULTIPART_MALFORMED with the parser's reason, on
 * the Marketplace upload and on pdisk's; nothing is stored and the server keeps serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN, basic, send, startConfiguredServer } from '../helpers/hostile-client.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

const server = await startConfiguredServer();
const base = server.url;
const signer = makeSigner(tempDir(), 'Form Tester', 'form.tester@example.org');
const entry = signedXml(signer, draft());

function part(boundary: string, name: string, filename: string, content: string): string {
  return `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n${content}\r\n`;
}

const B = '----stratus-boundary-1';
const CASES: Array<{ what: string; type: string; body: string }> = [
  { what: 'no boundary in the Content-Type', type: 'multipart/form-data', body: `${part(B, 'Metadata File', 'e.xml', entry)}--${B}--\r\n` },
  { what: 'an empty boundary', type: 'multipart/form-data; boundary=', body: `${part(B, 'Metadata File', 'e.xml', entry)}--${B}--\r\n` },
  { what: 'a boundary that never appears', type: 'multipart/form-data; boundary=not-the-one', body: `${part(B, 'Metadata File', 'e.xml', entry)}--${B}--\r\n` },
  { what: 'a body cut off inside the file part', type: `multipart/form-data; boundary=${B}`, body: part(B, 'Metadata File', 'e.xml', entry).slice(0, 400) },
  { what: 'a body cut off before the closing boundary', type: `multipart/form-data; boundary=${B}`, body: part(B, 'Metadata File', 'e.xml', entry) },
  { what: 'headers of a part that never end', type: `multipart/form-data; boundary=${B}`, body: `--${B}\r\nContent-Disposition: form-data; name="Metadata File"; filename="e.xml"\r\n` },
];

async function entries(): Promise<number> {
  const r = await send(base, 'GET', '/metadata?media=json&status=all', { headers: { accept: 'application/json' } });
  return (JSON.parse(r.text) as { total: number }).total;
}

test('malformed multipart uploads to /metadata answer 400 with the reason, never 500, and store nothing', async () => {
  for (const c of CASES) {
    const r = await send(base, 'POST', '/metadata', { headers: { 'content-type': c.type, accept: 'application/json' }, body: c.body });
    assert.equal(r.status, 400, `${c.what}: ${r.status} ${r.text}`);
    assert.equal(r.headers['x-stratus-error'], 'MULTIPART_MALFORMED', c.what);
    assert.match(r.text, /malformed multipart\/form-data body: /, c.what);
  }
  assert.equal(await entries(), 0);
  // The same entry in a well-formed form is taken: the refusals were about the form alone.
  const ok = await send(base, 'POST', '/metadata', { headers: { 'content-type': `multipart/form-data; boundary=${B}` }, body: `${part(B, 'Metadata File', 'e.xml', entry)}--${B}--\r\n` });
  assert.equal(ok.status, 201, ok.text);
});

test('malformed multipart uploads to pdisk answer 400, and leave no volume and no temporary file', async () => {
  const admin = basic(ADMIN);
  for (const c of CASES) {
    const r = await send(base, 'POST', '/pswd/disks/', { headers: { authorization: admin, 'content-type': c.type, accept: 'application/json' }, body: c.body.replace(/Metadata File/g, 'Image File') });
    assert.equal(r.status, 400, `${c.what}: ${r.status} ${r.text}`);
    assert.equal(r.headers['x-stratus-error'], 'MULTIPART_MALFORMED', `${c.what}: ${r.text}`);
  }
  const list = await send(base, 'GET', '/pswd/disks/', { headers: { authorization: admin, accept: 'application/json' } });
  assert.deepEqual(JSON.parse(list.text), []);
  const volumes = join(server.dataDir, 'volumes');
  const leftovers = readdirSync(volumes, { recursive: true }).map(String).filter((f) => f !== '.tmp');
  assert.deepEqual(leftovers, [], 'no volume file and nothing under .tmp');
});
