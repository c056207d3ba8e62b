/**
 * Ingest benchmark (issue: Marketplace). Sign N entries (default 10,000) with one key, then
 * upload them all to a real `stratus serve` over HTTP, 8 at a time; every upload runs the full
 * verification (signature, endorser, schema, constraints, RDF) and a transactional insert.
 * Anchor, same run: xmlsec1 --verify of a sample of the same files, one process each.
 * Target: >= 300 entries/s.   Run: node dist/bench/ingest.js [N]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { draft, makeSigner, signedXml } from '../test/helpers/signing.js';
import { startBenchServer } from './server.js';
import { report } from './lib.js';

const n = Number(process.argv[2] ?? 10_000);
const concurrency = 8;
const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-ingest-'));

async function main(): Promise<void> {
  const signer = makeSigner(dir, 'Bench Signer', 'bench@example.org');
  const t0 = performance.now();
  const docs: string[] = [];
  for (let i = 0; i < n; i++) docs.push(signedXml(signer, draft({ os: ['Debian', 'Ubuntu', 'CentOS', 'ttylinux'][i % 4] as string, title: `image-${i}` })));
  const signSecs = (performance.now() - t0) / 1000;

  // The ingest path is measured, not the allowance of anonymous uploads (120 an hour per address by default).
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'stratus.cfg'), '[marketplace]\nanonymous_uploads_per_hour = unlimited\n');
  const server = await startBenchServer(join(dir, 'data'));
  let next = 0;
  let failed = 0;
  const t1 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < docs.length) {
      const doc = docs[next++] as string;
      const res = await fetch(`${server.url}/metadata`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: doc });
      await res.arrayBuffer();
      if (res.status !== 201) failed++;
    }
  }));
  const uploadSecs = (performance.now() - t1) / 1000;
  const count = ((await (await fetch(`${server.url}/metadata?status=all&media=json&limit=1`)).json()) as { total: number }).total;
  await server.stop();

  // Anchor: an independent verifier on a sample of the same documents.
  const sample = Math.min(200, n);
  const pem = join(dir, 'signer.pem');
  writeFileSync(pem, signer.credentials.cert.pem);
  for (let i = 0; i < sample; i++) writeFileSync(join(dir, `e${i}.xml`), docs[i] as string);
  const t2 = performance.now();
  for (let i = 0; i < sample; i++) {
    const r = spawnSync('xmlsec1', ['--verify', '--trusted-pem', pem, join(dir, `e${i}.xml`)], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`xmlsec1 rejected e${i}.xml`);
  }
  const anchorRate = sample / ((performance.now() - t2) / 1000);
  const rate = n / uploadSecs;
  report(`Ingest of ${n} signed entries`, [
    ['signing (one key, in process)', `${(n / signSecs).toFixed(0)} entries/s`],
    [`upload with full verification (HTTP, ${concurrency} concurrent)`, `${rate.toFixed(0)} entries/s (${uploadSecs.toFixed(1)} s; target >= 300)`],
    ['stored / failed', `${count} / ${failed}`],
    [`anchor: xmlsec1 --verify, one process per entry (${sample} entries)`, `${anchorRate.toFixed(0)} entries/s`],
    ['ratio ours / xmlsec1', (rate / anchorRate).toFixed(1)],
  ]);
}

main().finally(() => rmSync(dir, { recursive: true, force: true }));
