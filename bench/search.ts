/**
 * Search benchmark (issue: Marketplace). Loads 10,000 then 100,000 entries into a real SQLite
 * data dir, serves it with `stratus serve`, and measures p50/p95 latency over HTTP (JSON
 * listing, 100 rows per page) for: os + endorser, one free-text word, and two words.
 * Anchor, same run: the same listing query straight on the database (kysely + better-sqlite3,
 * no HTTP, no JSON), to show what the server adds. Target: p95 <= 20 ms at 100,000 entries.
 * Run: node dist/bench/search.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../src/storage/database.js';
import { EntryStore } from '../src/storage/entries.js';
import type { NewEntryRow } from '../src/storage/entries.js';
import type { ListQuery } from '../src/domain/wire.js';
import { formatUtc } from '../src/domain/dates.js';
import { draft, makeSigner, signedXml } from '../test/helpers/signing.js';
import { startBenchServer } from './server.js';
import { percentile, report } from './lib.js';

const OS = ['Debian', 'Ubuntu', 'CentOS', 'ttylinux', 'OpenSuSE', 'Fedora', 'Rocky', 'Alpine'];
const ENDORSERS = Array.from({ length: 20 }, (_, i) => `endorser${i}@example.org`);
const WORDS = Array.from({ length: 2000 }, (_, i) => `w${(i * 7919).toString(36)}x`);
const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-search-'));
let seed = 42;
/** mulberry32: a small PRNG with good spread, so the data set is the same on every run. */
const rand = (n: number): number => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (((t ^ (t >>> 14)) >>> 0) % n);
};

async function load(from: number, to: number, xml: string): Promise<void> {
  const db = await openSqlite(join(dir, 'data', 'stratus.db'));
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let start = from; start < to; start += 500) {
    const rows: Array<NewEntryRow & { is_latest: number }> = [];
    for (let i = start; i < Math.min(to, start + 500); i++) {
      const os = OS[rand(OS.length)] as string;
      const email = ENDORSERS[rand(ENDORSERS.length)] as string;
      const words = Array.from({ length: 6 }, () => WORDS[rand(WORDS.length)]).join(' ');
      const identifier = `B${i.toString(36).padStart(26, '0')}`;
      const title = `${os.toLowerCase()}-image-${i}`;
      rows.push({
        identifier, email, created: formatUtc(new Date(base + i * 1000)), valid: '2099-01-01T00:00:00Z', deprecated: null,
        os, os_version: String(1 + rand(20)), os_arch: 'x86_64', kind: 'machine', type: 'base', title, description: words,
        alternative: null, creator: 'bench', version: '1.0', format: 'raw', location: `http://images.example.org/${identifier}.img.gz`,
        locations: `["http://images.example.org/${identifier}.img.gz"]`, location_kind: 'web', subject: `CN=${email}`, issuer: 'CN=CA', bytes: 1024,
        uploaded_at: '2026-01-01T00:00:00Z', search: `${identifier} ${email} ${os} x86_64 ${title} ${words} bench machine base 1.0`.toLowerCase(), xml, is_latest: 1,
      });
    }
    await db.db.insertInto('entries').values(rows).execute();
  }
  await db.close();
}

async function measure(label: string, count: number): Promise<Array<[string, string]>> {
  const server = await startBenchServer(join(dir, 'data'));
  const db = await openSqlite(join(dir, 'data', 'stratus.db'));
  const store = new EntryStore(db);
  const queries: Array<[string, () => { qs: string; q: ListQuery }]> = [
    ['os + endorser', () => { const os = OS[rand(OS.length)] as string; const e = ENDORSERS[rand(ENDORSERS.length)] as string; return { qs: `os=${os}&endorser=${e}`, q: { os, email: e } }; }],
    ['free text, one word', () => { const w = WORDS[rand(WORDS.length)] as string; return { qs: `q=${w}`, q: { text: w } }; }],
    ['free text, an OS name (1 entry in 8)', () => { const w = (OS[rand(OS.length)] as string).toLowerCase(); return { qs: `q=${w}`, q: { text: w } }; }],
    ['free text, two words', () => { const a = WORDS[rand(WORDS.length)] as string; const b = WORDS[rand(WORDS.length)] as string; return { qs: `q=${a}%20${b}`, q: { text: `${a} ${b}` } }; }],
  ];
  const rows: Array<[string, string]> = [];
  for (const [name, make] of queries) {
    for (let i = 0; i < 20; i++) await (await fetch(`${server.url}/metadata?media=json&${make().qs}`)).arrayBuffer(); // warm-up
    const http: number[] = [];
    const direct: number[] = [];
    let hits = 0;
    for (let i = 0; i < 300; i++) {
      const { qs, q } = make();
      const t0 = performance.now();
      const res = await fetch(`${server.url}/metadata?media=json&limit=100&${qs}`);
      const body = (await res.json()) as { total: number };
      http.push(performance.now() - t0);
      hits += body.total;
      const t1 = performance.now();
      await store.search({ ...q, limit: 100, now: '2026-11-25T00:00:00Z' });
      direct.push(performance.now() - t1);
    }
    rows.push([`${label}: ${name} (avg ${(hits / 300).toFixed(0)} matches)`,
      `HTTP p50 ${percentile(http, 50).toFixed(1)} ms, p95 ${percentile(http, 95).toFixed(1)} ms · direct p50 ${percentile(direct, 50).toFixed(1)} ms, p95 ${percentile(direct, 95).toFixed(1)} ms`]);
  }
  await db.close();
  await server.stop();
  void count;
  return rows;
}

async function main(): Promise<void> {
  const signer = makeSigner(dir);
  const xml = signedXml(signer, draft());
  const results: Array<[string, string]> = [];
  await load(0, 10_000, xml);
  results.push(...await measure('10,000 entries', 10_000));
  await load(10_000, 100_000, xml);
  results.push(...await measure('100,000 entries', 100_000));
  report('Search latency (300 queries each, sequential, keep-alive)', results);
}

main().finally(() => { if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true }); else console.log(dir); });
