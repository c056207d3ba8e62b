/**
 * pdisk upload benchmark (issue 3, method of issue 7). A 1 GiB image (60 % incompressible
 * data, 40 % zeros in 4 MiB runs), gzip -6, is uploaded to a real `stratus serve` of this tree
 * with PdiskClient.upload: the server inflates it as a stream, counts it against the limits,
 * computes the SHA-1 (identifier) in the same pass, keeps the gzip copy and writes the content
 * sparse. Anchor: `gunzip -c f.gz | sha1sum > /dev/null` on the same file. Both run 5 times
 * (STRATUS_BENCH_RUNS), interleaved with alternating order, with `sync` before every run;
 * the figures are medians with their range, and the median of the per-round ratios. With
 * `fsync = true` (the default) and `fsync = false` in stratus.cfg. Target: ratio <= 1.3
 * (issue 7 goal: <= 0.6).   Run: node dist/bench/pdisk-upload.js [MiB]
 */
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PdiskClient } from '../src/client/pdisk-client.js';
import { identifierFromSha1 } from '../src/domain/identifier.js';
import { benchImage, startBenchServer } from './server.js';
import { benchRuns, interleave, median, method, ratioSpread, report, spread, timeCommand } from './lib.js';

const mib = Number(process.argv[2] ?? 1024);
const runs = benchRuns();
const PASSWORD = 'bench-admin-password';
const img = benchImage(mib);
const gzBytes = statSync(img.gz).size;
const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-upload-'));

async function uploadOnce(client: PdiskClient): Promise<number> {
  const t0 = performance.now();
  const v = await client.upload(createReadStream(img.gz, { highWaterMark: 1024 * 1024 }), { gzipped: true, size: gzBytes });
  const secs = (performance.now() - t0) / 1000;
  if (v.identifier !== identifierFromSha1(img.sha1) || v.bytes !== img.bytes) throw new Error(`wrong volume: ${JSON.stringify(v)}`);
  await client.delete(v.uuid); // the same content again would be a duplicate; untimed
  return secs;
}

function anchorOnce(): number {
  return timeCommand('sh', ['-c', `gunzip -c '${img.gz}' | sha1sum > /dev/null`]);
}

async function main(): Promise<void> {
  const rows: Array<[string, string]> = [
    ['image', `${mib} MiB raw (60 % data, 40 % zeros), ${(gzBytes / 2 ** 20).toFixed(0)} MiB gzip -6`],
    ['method', method(runs)],
  ];
  timeCommand('cat', [img.gz]); // into the page cache
  for (const fsync of [true, false]) {
    const data = join(dir, `data-fsync-${fsync}`);
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'stratus.cfg'), `[pdisk]\nfsync = ${fsync}\n`);
    const server = await startBenchServer(data, [], { STRATUS_ADMIN_PASSWORD: PASSWORD });
    const client = new PdiskClient(server.url, { username: 'admin', password: PASSWORD });
    process.stderr.write(`fsync = ${fsync}:\n`);
    try {
      await uploadOnce(client); // warm-up, untimed: the server's first upload loads code and fills caches
      const r = await interleave(runs, () => uploadOnce(client), anchorOnce);
      const o = median(r.ours);
      rows.push(
        [`fsync = ${fsync}: PdiskClient.upload (gunzip + SHA-1 + sparse write + gzip copy)`, `${spread(r.ours)}, ${(mib / o).toFixed(0)} MiB/s`],
        [`fsync = ${fsync}: gunzip -c \\| sha1sum > /dev/null`, spread(r.anchor)],
        [`fsync = ${fsync}: ratio of medians (target <= 1.3, goal <= 0.6)`, `**${(o / median(r.anchor)).toFixed(2)}**`],
        [`fsync = ${fsync}: per-round ratios, median (range)`, ratioSpread(r.ratios)],
        [`fsync = ${fsync}: runs (ours / anchor)`, `${r.ours.map((x) => x.toFixed(2)).join(', ')} / ${r.anchor.map((x) => x.toFixed(2)).join(', ')}`],
      );
    } finally {
      await server.stop();
    }
  }
  report(`pdisk upload of a ${mib} MiB image (median of ${runs})`, rows);
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
