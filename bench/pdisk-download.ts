/**
 * pdisk download benchmark (issue 3, method of issue 7). The 1 GiB image of pdisk-upload
 * (gzip -6) is uploaded once to a real `stratus serve` of this tree, with a signed
 * Marketplace entry whose location is `pdisk:host:port:uuid`. Timed: the real command of this
 * tree, `stratus download-image <ID>` (metadata fetch and signature check, GET of the kept
 * gzip, .part file for resuming, the byte budget, gunzip, SHA-1 and size check, sparse write,
 * fsync, rename). Anchor: `curl -s URL | gunzip -c | tee out.img | sha1sum` on loopback. Both
 * run 5 times (STRATUS_BENCH_RUNS), interleaved with alternating order, with `sync` before
 * every run; medians with their range, and the median of the per-round ratios. Also shown, to
 * see where the time goes: the same streaming pipeline in-process (GET → gunzip → SHA-1 →
 * sparse writer), with and without fsync. Target: ratio <= 1.3 (issue 7 goal: <= 0.6).
 * Run: node dist/bench/pdisk-download.js [MiB]
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { tap } from '../src/platform/streams.js';
import { PdiskClient } from '../src/client/pdisk-client.js';
import { SparseFileWriter } from '../src/platform/sparse-writer.js';
import { cliPath } from '../test/helpers/paths.js';
import { makeSigner } from '../test/helpers/signing.js';
import { benchImage, publishGz, startBenchServer } from './server.js';
import { benchRuns, interleave, median, method, ratioSpread, report, settle, spread, timeCommand } from './lib.js';

const mib = Number(process.argv[2] ?? 1024);
const runs = benchRuns();
const PASSWORD = 'bench-admin-password';
const img = benchImage(mib);
const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-download-'));
const home = join(dir, 'home'); // no user config file gets in the way
mkdirSync(home);
const out = join(dir, 'out.img');

function sh(script: string): number {
  return timeCommand('bash', ['-o', 'pipefail', '-c', script]);
}

async function inProcess(client: PdiskClient, uuid: string, durable: boolean): Promise<number> {
  const t0 = performance.now();
  const hash = createHash('sha1');
  let bytes = 0;
  const verify = tap((chunk) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  await pipeline(await client.download(uuid), createGunzip({ chunkSize: 1024 * 1024 }), verify, new SparseFileWriter(out, durable));
  const secs = (performance.now() - t0) / 1000;
  if (hash.digest('hex') !== img.sha1 || bytes !== img.bytes) throw new Error('in-process download: wrong content');
  rmSync(out);
  return secs;
}

async function main(): Promise<void> {
  const server = await startBenchServer(join(dir, 'data'), [], { STRATUS_ADMIN_PASSWORD: PASSWORD });
  const client = new PdiskClient(server.url, { username: 'admin', password: PASSWORD });
  const rows: Array<[string, string]> = [];
  try {
    const gzBytes = statSync(img.gz).size;
    const signer = makeSigner(dir, 'Bench Signer', 'bench@example.org');
    const { identifier, uuid } = await publishGz(server.url, { username: 'admin', password: PASSWORD }, signer, img);

    const command = `HOME='${home}' '${process.execPath}' '${cliPath}' download-image ${identifier} -o '${out}' --marketplace-endpoint ${server.url} --pdisk-endpoint ${server.url} -u admin -p ${PASSWORD} > /dev/null`;
    const url = `${server.url}/pswd/disks/${uuid}`;
    const anchorScript = `curl -s -f -u admin:${PASSWORD} -H 'Accept: application/x-gzip' ${url} | gunzip -c | tee '${out}' | sha1sum > '${dir}/anchor.sha1'`;
    const ours = (): number => {
      const secs = sh(command);
      if (statSync(out).size !== img.bytes) throw new Error('stratus download-image wrote the wrong size');
      rmSync(out);
      return secs;
    };
    const anchor = (): number => {
      const secs = sh(anchorScript);
      if (spawnSync('grep', ['-q', img.sha1, join(dir, 'anchor.sha1')]).status !== 0) throw new Error('anchor: wrong SHA-1');
      rmSync(out);
      return secs;
    };

    await settle();
    ours(); // warm-up, untimed: the server makes nothing on the first GET (the gzip is kept), but caches fill
    const r = await interleave(runs, ours, anchor);
    const piped: number[] = [];
    const pipedNoSync: number[] = [];
    for (let run = 0; run < runs; run++) {
      await settle();
      piped.push(await inProcess(client, uuid, true));
      await settle();
      pipedNoSync.push(await inProcess(client, uuid, false));
    }
    const o = median(r.ours);
    const a = median(r.anchor);
    rows.push(
      ['image', `${mib} MiB raw (60 % data, 40 % zeros), ${(gzBytes / 2 ** 20).toFixed(0)} MiB gzip -6, served from the kept gzip copy`],
      ['method', method(runs)],
      ['`stratus download-image <ID>` (real command of this tree)', `${spread(r.ours)}, ${(mib / o).toFixed(0)} MiB/s`],
      ['`curl -s URL \\| gunzip -c \\| tee out.img \\| sha1sum`', spread(r.anchor)],
      ['ratio of medians (target <= 1.3, goal <= 0.6)', `**${(o / a).toFixed(2)}**`],
      ['per-round ratios, median (range)', ratioSpread(r.ratios)],
      ['in-process pipeline: GET → gunzip (1 MiB chunks) → SHA-1 → sparse write + fsync', `${spread(piped)} (ratio ${(median(piped) / a).toFixed(2)})`],
      ['in-process pipeline, no fsync', `${spread(pipedNoSync)} (ratio ${(median(pipedNoSync) / a).toFixed(2)})`],
      ['runs (command / anchor)', `${r.ours.map((x) => x.toFixed(2)).join(', ')} / ${r.anchor.map((x) => x.toFixed(2)).join(', ')}`],
    );
  } finally {
    await server.stop();
  }
  report(`pdisk download of a ${mib} MiB image (median of ${runs})`, rows);
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
