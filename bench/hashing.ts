/**
 * Hashing benchmark (issue: Marketplace). One 1 GiB file in the page cache:
 * `stratus-build-metadata` (size + MD5 + SHA-1 + SHA-256 + SHA-512 in one read) against the
 * anchor, coreutils md5sum, sha1sum, sha256sum and sha512sum run one after another.
 * Target: wall-time ratio <= 0.7.   Run: node dist/bench/hashing.js [MiB]
 */
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, report, timeCommand } from './lib.js';

const mib = Number(process.argv[2] ?? 1024);
const dir = mkdtempSync(join(tmpdir(), 'stratus-bench-hash-'));
const file = join(dir, 'image.img');
try {
  const fd = openSync(file, 'w');
  const block = randomBytes(16 * 1024 * 1024);
  for (let i = 0; i < mib / 16; i++) writeSync(fd, block.map((b, j) => (b + i + j) & 0xff));
  closeSync(fd);
  timeCommand('cat', [file], {}); // into the page cache
  const ours: number[] = [];
  const anchor: number[] = [];
  for (let run = 0; run < 3; run++) {
    ours.push(timeCommand('stratus-build-metadata', ['--os', 'bench', '-o', join(dir, 'out.xml'), file], { cwd: dir }));
    anchor.push(timeCommand('sh', ['-c', `md5sum ${file} && sha1sum ${file} && sha256sum ${file} && sha512sum ${file}`]));
  }
  const o = median(ours);
  const a = median(anchor);
  report(`Hashing ${mib} MiB (median of 3)`, [
    ['stratus-build-metadata (4 digests, one read)', `${o.toFixed(2)} s`],
    ['md5sum; sha1sum; sha256sum; sha512sum', `${a.toFixed(2)} s`],
    ['ratio (target <= 0.7)', (o / a).toFixed(2)],
    ['runs (ours / anchor)', `${ours.map((x) => x.toFixed(2)).join(', ')} / ${anchor.map((x) => x.toFixed(2)).join(', ')}`],
  ]);
  writeFileSync(join(dir, 'done'), '');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
