/**
 * pdisk download benchmark (issue 3). The 1 GiB image of pdisk-upload (gzip -6) is uploaded
 * once to a real `stratus serve`, with a signed Marketplace entry whose location is
 * `pdisk:host:port:uuid`. Timed: the real command, `stratus download-image <ID>` (metadata
 * fetch and signature check, GET of the kept gzip, .part file for resuming, gunzip, SHA-1 and
 * size check, sparse write, fsync, rename). Anchor, same run: `curl -s URL | gunzip -c | tee
 * out.img | sha1sum` on loopback. Also shown, to see where the time goes: the same streaming
 * pipeline in-process (GET → gunzip → SHA-1 → sparse writer), with and without fsync, and with
 * a 1 MiB inflate chunk instead of zlib's 16 KiB default.
 * Median of 3. Target: ratio <= 1.3.   Run: node dist/bench/pdisk-download.js [MiB]
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tap } from '../src/platform/streams.js';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { PdiskClient } from '../src/client/pdisk-client.js';
import { identifierFromSha1 } from '../src/domain/identifier.js';
import { pdiskLocation } from '../src/domain/volume.js';
import { SparseFileWriter } from '../src/platform/sparse-writer.js';
import { draft, makeSigner, signedXml } from '../test/helpers/signing.js';
import { benchImage, startBenchServer } from './server.js';
import { median, report, timeCommand } from './lib.js';

const mib = Number(process.argv[2] ?? 1024);
const PASSWORD = 'bench-admin-password';
const img = benchImage(mib);
const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-download-'));
const home = join(dir, 'home'); // no user config file gets in the way
mkdirSync(home);

function sh(script: string): number {
  spawnSync('sync');
  return timeCommand('bash', ['-o', 'pipefail', '-c', script]);
}

async function inProcess(client: PdiskClient, uuid: string, out: string, durable: boolean, chunkSize?: number): Promise<number> {
  spawnSync('sync');
  const t0 = performance.now();
  const hash = createHash('sha1');
  let bytes = 0;
  const verify = tap((chunk) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  await pipeline(await client.download(uuid), createGunzip(chunkSize ? { chunkSize } : {}), verify, new SparseFileWriter(out, durable));
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
    const volume = await client.upload(createReadStream(img.gz, { highWaterMark: 1024 * 1024 }), { gzipped: true, size: gzBytes });
    const identifier = identifierFromSha1(img.sha1);
    if (volume.identifier !== identifier) throw new Error('upload gave the wrong identifier');
    const signer = makeSigner(dir, 'Bench Signer', 'bench@example.org');
    const entry = signedXml(signer, draft({
      identifier, bytes: img.bytes, checksums: { 'SHA-1': img.sha1 }, compression: 'gz', locations: [pdiskLocation(server.url, volume.uuid)],
    }));
    const posted = await fetch(`${server.url}/metadata`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: entry });
    if (posted.status !== 201) throw new Error(`metadata upload: ${posted.status} ${await posted.text()}`);

    const out = join(dir, 'out.img');
    const command = `HOME='${home}' stratus download-image ${identifier} -o '${out}' --marketplace-endpoint ${server.url} --pdisk-endpoint ${server.url} -u admin -p ${PASSWORD} > /dev/null`;
    const url = `${server.url}/pswd/disks/${volume.uuid}`;
    const anchorScript = `curl -s -f -u admin:${PASSWORD} -H 'Accept: application/x-gzip' ${url} | gunzip -c | tee '${out}' | sha1sum > '${dir}/anchor.sha1'`;

    const ours: number[] = [];
    const anchor: number[] = [];
    const piped: number[] = [];
    const pipedNoSync: number[] = [];
    const pipedBig: number[] = [];
    for (let run = 0; run < 3; run++) {
      ours.push(sh(command));
      if (statSync(out).size !== img.bytes) throw new Error('stratus download-image wrote the wrong size');
      rmSync(out);
      anchor.push(sh(anchorScript));
      if (spawnSync('grep', ['-q', img.sha1, join(dir, 'anchor.sha1')]).status !== 0) throw new Error('anchor: wrong SHA-1');
      rmSync(out);
      piped.push(await inProcess(client, volume.uuid, out, true));
      pipedNoSync.push(await inProcess(client, volume.uuid, out, false));
      pipedBig.push(await inProcess(client, volume.uuid, out, true, 1024 * 1024));
    }
    const o = median(ours);
    const a = median(anchor);
    const p = median(piped);
    const q = median(pipedNoSync);
    const r = median(pipedBig);
    rows.push(
      ['image', `${mib} MiB raw (60 % data, 40 % zeros), ${(gzBytes / 2 ** 20).toFixed(0)} MiB gzip -6, served from the kept gzip copy`],
      ['`stratus download-image <ID>` (real command)', `${o.toFixed(2)} s (${(mib / o).toFixed(0)} MiB/s)`],
      ['`curl -s URL \\| gunzip -c \\| tee out.img \\| sha1sum`', `${a.toFixed(2)} s`],
      ['ratio (target <= 1.3)', `**${(o / a).toFixed(2)}**`],
      ['in-process pipeline: GET → gunzip → SHA-1 → sparse write + fsync', `${p.toFixed(2)} s (ratio ${(p / a).toFixed(2)})`],
      ['in-process pipeline, no fsync', `${q.toFixed(2)} s (ratio ${(q / a).toFixed(2)})`],
      ['in-process pipeline + fsync, gunzip chunkSize 1 MiB (zlib default: 16 KiB)', `${r.toFixed(2)} s (ratio ${(r / a).toFixed(2)})`],
      ['runs (command / anchor)', `${ours.map((x) => x.toFixed(2)).join(', ')} / ${anchor.map((x) => x.toFixed(2)).join(', ')}`],
    );
  } finally {
    await server.stop();
  }
  report(`pdisk download of a ${mib} MiB image (median of 3)`, rows);
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
