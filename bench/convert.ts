/**
 * stratus-convert-image benchmark (issue 11): a 2 GiB VDI made from the debian-12 base image
 * (about 0.5 GiB of it data) converted to raw by `stratus-convert-image in.vdi out.img` against
 * `qemu-img convert -f vdi -O raw in.vdi out.img` alone, in the same rounds (alternating which
 * goes first, `sync` before each, and a timed `sync` after each command, so that each pays for
 * writing its own output). Ours adds the header reading, qemu-img's info check, the
 * node start-up and the rename. Target: ratio ≤ 1.05.
 * Run: npm run bench convert   (STRATUS_BENCH_RUNS rounds, default 5)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../src/images/builder.js';
import { loadRecipe } from '../src/images/recipe.js';
import { cliPath, repoRoot } from '../test/helpers/paths.js';
import { benchRuns, interleave, method, ratioSpread, report, spread, timeCommand } from './lib.js';

async function main(): Promise<void> {
  const base = await buildImage(loadRecipe(join(repoRoot, 'recipes'), 'debian-12'));
  const work = mkdtempSync(join(tmpdir(), 'stratus-bench-convert-'));
  try {
    const runs = benchRuns();
    const rows: Array<[string, string]> = [];
    // The base image (a quarter of it data), and a disk full of data (every block to copy).
    const full = join(work, 'full.raw');
    execFileSync('sh', ['-c', `head -c ${2 ** 31} /dev/urandom > '${full}'`]);
    for (const [label, raw] of [['debian-12 (2 GiB disk)', base.path], ['2 GiB of random data', full]] as const) {
      const vdi = join(work, 'in.vdi');
      rmSync(vdi, { force: true });
      execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', raw, vdi]);
      const ours = join(work, 'ours.img');
      const anchor = join(work, 'anchor.img');
      // Each side's time includes a `sync`: 2 GiB of output is mostly write-back, which would
      // otherwise land in whichever run comes next (the spread was 0.2–6 s without it).
      const r = await interleave(runs,
        () => { rmSync(ours, { force: true }); return timeCommand('sh', ['-c', `"$0" "$1" convert-image -q "$2" "$3" && sync`, process.execPath, cliPath, vdi, ours]); },
        () => { rmSync(anchor, { force: true }); return timeCommand('sh', ['-c', 'qemu-img convert -f vdi -O raw "$0" "$1" && sync', vdi, anchor]); });
      execFileSync('cmp', [ours, anchor]);
      const vdiBytes = Number(execFileSync('stat', ['-c', '%s', vdi], { encoding: 'utf8' }).trim());
      rows.push(
        [`${label}: the dynamic VDI`, `${(vdiBytes / 2 ** 20).toFixed(0)} MiB file`],
        [`${label}: stratus-convert-image in.vdi out.img && sync`, spread(r.ours)],
        [`${label}: qemu-img convert -f vdi -O raw in.vdi out.img && sync`, spread(r.anchor)],
        [`${label}: **ratio ours / qemu-img**, each round (target ≤ 1.05)`, ratioSpread(r.ratios)],
      );
      rmSync(ours, { force: true });
      rmSync(anchor, { force: true });
    }
    rows.push(['outputs', 'byte-identical to qemu-img\'s (cmp)'], ['method', method(runs)]);
    report('stratus-convert-image: 2 GiB VDI to raw, against qemu-img convert alone', rows);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
