/**
 * stratus-check-image benchmark (issue 11): the offline audit of the debian-12 base image
 * (raw, 2 GiB) against `virt-sysprep --dry-run` on a copy of the same image (libguestfs boots
 * its appliance; LIBGUESTFS_BACKEND=direct, TCG when KVM is not usable), in the same rounds.
 * Target: the audit ≤ 3 s.
 * Run: npm run bench check-image   (STRATUS_BENCH_RUNS rounds, default 3 here: the anchor is slow)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectAccel } from '../src/compute/drivers/qemu/accel.js';
import { buildImage } from '../src/images/builder.js';
import { loadRecipe } from '../src/images/recipe.js';
import { cliPath, repoRoot } from '../test/helpers/paths.js';
import { virtCustomizeReady } from './e2e/anchors.js';
import { interleave, method, ratioSpread, report, spread, timeCommand } from './lib.js';


async function main(): Promise<void> {
  const base = await buildImage(loadRecipe(join(repoRoot, 'recipes'), 'debian-12'));
  const work = mkdtempSync(join(tmpdir(), 'stratus-bench-check-'));
  try {
    const copy = join(work, 'debian-12.img');
    execFileSync('cp', ['--sparse=always', base.path, copy]);
    const runs = Number(process.env.STRATUS_BENCH_RUNS ?? 3);
    const accel = await detectAccel();
    const gfs = { LIBGUESTFS_BACKEND: 'direct', ...(accel === 'tcg' ? { LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' } : {}) };
    // libguestfs's tools (virt-sysprep with virt-customize), installed as the e2e benchmark does.
    const ready = virtCustomizeReady();
    const have = ready.ok && spawnSync('virt-sysprep', ['--version']).status === 0;
    const rows: Array<[string, string]> = [];
    if (have) {
      const r = await interleave(runs,
        () => timeCommand(process.execPath, [cliPath, 'check-image', base.path]),
        () => timeCommand('virt-sysprep', ['--dry-run', '--format', 'raw', '-a', copy], { env: gfs }));
      rows.push(['stratus-check-image debian-12 (target ≤ 3 s)', spread(r.ours)], ['virt-sysprep --dry-run -a debian-12 (libguestfs appliance)', spread(r.anchor)],
        ['ratio ours / virt-sysprep, each round', ratioSpread(r.ratios)], ['accelerator for the appliance', accel], ['method', method(runs)]);
    } else {
      const ours: number[] = [];
      for (let i = 0; i < runs; i++) ours.push(timeCommand(process.execPath, [cliPath, 'check-image', base.path]));
      rows.push(['stratus-check-image debian-12 (target ≤ 3 s)', spread(ours)], ['virt-sysprep', `cannot run here: ${ready.ok ? 'virt-sysprep --version failed' : ready.why ?? 'not installed'}`]);
    }
    report('stratus-check-image: the audit of debian-12, against virt-sysprep --dry-run', rows);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
