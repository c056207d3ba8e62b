/**
 * stratus-check-image benchmark (issue 11): the offline audit of the debian-12 base image
 * (raw, 2 GiB) against `virt-sysprep --dry-run` on a copy of the same image (libguestfs boots
 * its appliance; LIBGUESTFS_BACKEND=direct, TCG when KVM is not usable), in the same rounds.
 * Target: the audit ≤ 3 s. Then the cleaning itself, on a copy with a host key, an
 * authorized_keys, a history and a machine-id planted: `stratus-check-image --sysprep OUT`
 * (which writes a new file) against `virt-sysprep -a` (which changes the copy in place; its copy
 * is made before the clock starts).
 * Run: npm run bench check-image   (STRATUS_BENCH_RUNS rounds, default 3 here: the anchor is slow)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectAccel } from '../src/compute/drivers/qemu/accel.js';
import { buildImage } from '../src/images/builder.js';
import { loadRecipe } from '../src/images/recipe.js';
import { cliPath, repoRoot } from '../test/helpers/paths.js';
import { rootFileSystem } from '../src/images/audit/index.js';
import { virtCustomizeReady } from './e2e/anchors.js';
import { interleave, method, ratioSpread, report, spread, timeCommand } from './lib.js';

/** A fresh copy of `base` at `copy` with a host key, root's authorized_keys and history, and a machine-id planted (debugfs -w). */
function planted(base: string, copy: string, work: string): void {
  execFileSync('cp', ['--sparse=always', base, copy]);
  const file = (name: string, text: string): string => {
    writeFileSync(join(work, name), text);
    return join(work, name);
  };
  const commands = [
    `write ${file('key', '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n')} /etc/ssh/ssh_host_ed25519_key`,
    'mkdir /root/.ssh', `write ${file('ak', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMaker maker@example.org\n')} /root/.ssh/authorized_keys`,
    `write ${file('hist', 'ls\n')} /root/.bash_history`, 'rm /etc/machine-id', `write ${file('mid', '0123456789abcdef0123456789abcdef\n')} /etc/machine-id`,
  ];
  execFileSync('debugfs', ['-w', '-f', file('commands', commands.join('\n') + '\n'), `${copy}?offset=${rootFileSystem(copy)}`], { stdio: 'ignore' });
}

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
        ['ratio ours / virt-sysprep, each round', ratioSpread(r.ratios)]);
      const cleaned = join(work, 'cleaned.img');
      const s = await interleave(runs,
        () => {
          planted(base.path, copy, work);
          rmSync(cleaned, { force: true });
          return timeCommand(process.execPath, [cliPath, 'check-image', '--sysprep', cleaned, copy]);
        },
        () => {
          planted(base.path, copy, work);
          return timeCommand('virt-sysprep', ['--format', 'raw', '-a', copy], { env: gfs });
        });
      rows.push(['stratus-check-image --sysprep cleaned.img debian-12+planted (a new 2 GiB file)', spread(s.ours)], ['virt-sysprep -a debian-12+planted (in place)', spread(s.anchor)],
        ['ratio ours / virt-sysprep, each round', ratioSpread(s.ratios)], ['accelerator for the appliance', accel], ['method', method(runs)]);
    } else {
      const ours: number[] = [];
      for (let i = 0; i < runs; i++) ours.push(timeCommand(process.execPath, [cliPath, 'check-image', base.path]));
      rows.push(['stratus-check-image debian-12 (target ≤ 3 s)', spread(ours)], ['virt-sysprep', `cannot run here: ${ready.ok ? 'virt-sysprep --version failed' : ready.why ?? 'not installed'}`]);
    }
    report('stratus-check-image: the audit of debian-12 against virt-sysprep --dry-run, and --sysprep against virt-sysprep', rows);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
