/**
 * pdisk upload benchmark (issue 3). A 1 GiB image (60 % incompressible data, 40 % zeros in
 * 4 MiB runs), gzip -6, is uploaded to a real `stratus serve` with PdiskClient.upload: the
 * server inflates it as a stream, computes the SHA-1 (identifier) in the same pass, keeps the
 * gzip copy and writes the content sparse. Anchor, same run, same file: `gunzip -c f.gz |
 * sha1sum > /dev/null`. Median of 3 each, with `fsync = true` (the default) and `fsync =
 * false` in stratus.cfg. Target: ratio <= 1.3.   Run: node dist/bench/pdisk-upload.js [MiB]
 */
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PdiskClient } from '../src/client/pdisk-client.js';
import { identifierFromSha1 } from '../src/domain/identifier.js';
import { benchImage, startBenchServer } from './server.js';
import { median, report, timeCommand } from './lib.js';

const mib = Number(process.argv[2] ?? 1024);
const PASSWORD = 'bench-admin-password';
const img = benchImage(mib);
const gzBytes = statSync(img.gz).size;
const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-upload-'));

async function uploadOnce(client: PdiskClient): Promise<number> {
  spawnSync('sync');
  const t0 = performance.now();
  const v = await client.upload(createReadStream(img.gz, { highWaterMark: 1024 * 1024 }), { gzipped: true, size: gzBytes });
  const secs = (performance.now() - t0) / 1000;
  if (v.identifier !== identifierFromSha1(img.sha1) || v.bytes !== img.bytes) throw new Error(`wrong volume: ${JSON.stringify(v)}`);
  await client.delete(v.uuid); // the same content again would be a duplicate
  return secs;
}

function anchorOnce(): number {
  spawnSync('sync');
  return timeCommand('sh', ['-c', `gunzip -c '${img.gz}' | sha1sum > /dev/null`]);
}

async function main(): Promise<void> {
  const rows: Array<[string, string]> = [
    ['image', `${mib} MiB raw (60 % data, 40 % zeros), ${(gzBytes / 2 ** 20).toFixed(0)} MiB gzip -6`],
  ];
  timeCommand('cat', [img.gz]); // into the page cache
  for (const fsync of [true, false]) {
    const data = join(dir, `data-fsync-${fsync}`);
    mkdirSync(data, { recursive: true });
    writeFileSync(join(data, 'stratus.cfg'), `[pdisk]\nfsync = ${fsync}\n`);
    const server = await startBenchServer(data, [], { STRATUS_ADMIN_PASSWORD: PASSWORD });
    const client = new PdiskClient(server.url, { username: 'admin', password: PASSWORD });
    const ours: number[] = [];
    const anchor: number[] = [];
    try {
      for (let run = 0; run < 3; run++) {
        ours.push(await uploadOnce(client));
        anchor.push(anchorOnce());
      }
    } finally {
      await server.stop();
    }
    const o = median(ours);
    const a = median(anchor);
    rows.push(
      [`fsync = ${fsync}: PdiskClient.upload (gunzip + SHA-1 + sparse write + gzip copy)`, `${o.toFixed(2)} s (${(mib / o).toFixed(0)} MiB/s)`],
      [`fsync = ${fsync}: gunzip -c \\| sha1sum > /dev/null`, `${a.toFixed(2)} s`],
      [`fsync = ${fsync}: ratio (target <= 1.3)`, `**${(o / a).toFixed(2)}**`],
      [`fsync = ${fsync}: runs (ours / anchor)`, `${ours.map((x) => x.toFixed(2)).join(', ')} / ${anchor.map((x) => x.toFixed(2)).join(', ')}`],
    );
  }
  report(`pdisk upload of a ${mib} MiB image (median of 3)`, rows);
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
