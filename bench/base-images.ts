/**
 * Base-image benchmark (issue: base images and the QEMU driver).
 *  - cold and cached build time, and sizes (raw, allocated, gzip -6), per recipe;
 *  - boot to SSH banner, median of 5, through our driver (launchInstance + waitForSsh) and
 *    through a bare qemu-system-x86_64 command line with the same disks and devices, in the
 *    same run; target: our overhead within 10 % or 300 ms, whichever is larger;
 *  - peak memory (VmHWM) of QEMU for an idle ttylinux instance.
 * Run: node dist/bench/base-images.js [recipe …]   (STRATUS_BENCH_COLD=0 skips cold builds)
 */
import { spawn, execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { buildImage } from '../src/images/builder.js';
import { cacheRoot } from '../src/platform/data-dir.js';
import { loadRecipe, listRecipes } from '../src/images/recipe.js';
import { launchInstance, waitForSsh } from '../src/compute/launch.js';
import { buildSeed } from '../src/context/nocloud.js';
import { waitForSshBanner } from '../src/platform/probe.js';
import { median, report } from './lib.js';
import { repoRoot } from '../test/helpers/paths.js';

const recipesDir = join(repoRoot, 'recipes');
const names = process.argv.slice(2).length ? process.argv.slice(2) : listRecipes(recipesDir);
const work = mkdtempSync(join(tmpdir(), 'stratus-bench-images-'));
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'key')]);
const key = readFileSync(join(work, 'key.pub'), 'utf8').trim();
const mb = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** Bytes of the image gzipped at level 6 (what is uploaded), streamed. */
async function gzipSize(path: string): Promise<number> {
  let n = 0;
  await pipeline(createReadStream(path), createGzip({ level: 6 }), new Writable({ write(chunk: Buffer, _e, cb) { n += chunk.length; cb(); } }));
  return n;
}

async function bareBoot(image: string, memoryMiB: number, vcpus: number, port: number): Promise<number> {
  const ov = join(work, `bare-${port}.qcow2`);
  const seed = join(work, `bare-${port}.iso`);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', image, ov]);
  writeFileSync(seed, buildSeed({ instanceId: `bare-${port}`, hostname: 'bare', sshKeys: [key] }));
  const t0 = performance.now();
  const child = spawn('qemu-system-x86_64', ['-accel', 'tcg', '-cpu', 'max', '-m', String(memoryMiB), '-smp', String(vcpus), '-nographic',
    '-drive', `file=${ov},if=virtio`, '-drive', `file=${seed},if=virtio,format=raw,readonly=on`,
    '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:22`, '-device', 'virtio-net-pci,netdev=n0', '-device', 'virtio-rng-pci'], { stdio: 'ignore' });
  try {
    await waitForSshBanner('127.0.0.1', port, 300_000);
    return performance.now() - t0;
  } finally {
    child.kill('SIGKILL');
    rmSync(ov, { force: true });
  }
}

/** VmHWM/VmRSS of QEMU for an instance left idle 10 s after SSH answered. */
async function idleMemory(name: string, image: string, memoryMiB: number, tcgCacheMiB?: number): Promise<[string, string]> {
  const inst = await launchInstance({ name: `bench-mem-${tcgCacheMiB ?? 0}`, instancesDir: join(work, 'inst'), base: { path: image, format: 'raw' },
    vcpus: 1, memoryMiB, seed: { instanceId: 'mem', hostname: 'mem', sshKeys: [key] }, inboundPorts: [], ...(tcgCacheMiB ? { tcgCacheMiB } : {}) });
  try {
    await waitForSsh(inst, 300_000);
    await new Promise((r) => setTimeout(r, 10_000));
    const status = readFileSync(`/proc/${inst.machine.pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return [`${name}: QEMU memory, idle instance (-m ${memoryMiB}, ${tcgCacheMiB ? `TCG cache ${tcgCacheMiB} MiB` : 'default TCG cache'})`, `peak ${mb(kb('VmHWM'))}, now ${mb(kb('VmRSS'))}`];
  } finally {
    await inst.machine.kill();
  }
}

async function main(): Promise<void> {
  const rows: Array<[string, string]> = [];
  for (const name of names) {
    const recipe = loadRecipe(recipesDir, name);
    if (process.env.STRATUS_BENCH_COLD !== '0') {
      const saved = process.env.STRATUS_CACHE_DIR;
      process.env.STRATUS_CACHE_DIR = join(work, `cold-${name}`);
      const cold = await buildImage(recipe);
      rows.push([`${name}: cold build (empty cache, packages downloaded)`, `${cold.buildSeconds.toFixed(1)} s`]);
      rmSync(join(work, `cold-${name}`), { recursive: true, force: true });
      if (saved === undefined) delete process.env.STRATUS_CACHE_DIR;
      else process.env.STRATUS_CACHE_DIR = saved;
    }
    await buildImage(recipe);
    const t = performance.now();
    const image = await buildImage(recipe);
    rows.push([`${name}: cached build (nothing changed)`, `${((performance.now() - t) / 1000).toFixed(2)} s`]);
    const gz = await gzipSize(image.path);
    rows.push([`${name}: size raw / allocated / gzip -6`, `${mb(image.bytes)} / ${mb(statSync(image.path).blocks * 512)} / ${mb(gz)}`]);

    const ours: number[] = [];
    const bare: number[] = [];
    const ciDone: number[] = [];
    const poweroff: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const inst = await launchInstance({ name: `bench-${name}-${i}`, instancesDir: join(work, 'inst'), base: { path: image.path, format: 'raw' },
        vcpus: recipe.boot.vcpus, memoryMiB: recipe.boot.memoryMiB, seed: { instanceId: `bench-${i}`, hostname: 'bench', sshKeys: [key] }, inboundPorts: [] });
      try {
        await waitForSsh(inst, 300_000);
        ours.push(performance.now() - t0);
        if (name.startsWith('debian')) {
          const status = execFileSync('ssh', ['-i', join(work, 'key'), '-p', String(inst.ports.get(22)), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
            '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${inst.address}`, 'cloud-init status --wait; true'], { encoding: 'utf8', timeout: 300_000 });
          if (/done/.test(status)) ciDone.push(performance.now() - t0);
          else throw new Error(`cloud-init did not end done: ${status}`);
        }
        const t1 = performance.now();
        const exited = inst.machine.waitForExit(120_000);
        await inst.machine.powerdown();
        if ((await exited).reason === 'guest-shutdown') poweroff.push(performance.now() - t1);
      } finally {
        await inst.machine.kill();
      }
      bare.push(await bareBoot(image.path, recipe.boot.memoryMiB, recipe.boot.vcpus, 24000 + i));
    }
    if (name === 'ttylinux') {
      for (const tcgCacheMiB of [undefined, 32]) rows.push(await idleMemory(name, image.path, recipe.boot.memoryMiB, tcgCacheMiB));
    }
    const o = median(ours);
    const b = median(bare);
    rows.push([`${name}: boot to SSH banner, our driver (median of 5)`, `${(o / 1000).toFixed(2)} s (${ours.map((x) => (x / 1000).toFixed(2)).join(', ')})`]);
    rows.push([`${name}: boot to SSH banner, bare qemu-system-x86_64 (median of 5)`, `${(b / 1000).toFixed(2)} s (${bare.map((x) => (x / 1000).toFixed(2)).join(', ')})`]);
    const secs = (v: number[]) => `${(median(v) / 1000).toFixed(2)} s (${v.map((x) => (x / 1000).toFixed(2)).join(', ')})`;
    if (ciDone.length) rows.push([`${name}: QEMU start to cloud-init status done (median of ${ciDone.length})`, secs(ciDone)]);
    rows.push([`${name}: QMP system_powerdown to QEMU exit, guest-shutdown (median of ${poweroff.length})`, secs(poweroff)]);
    rows.push([`${name}: our overhead (target ≤ max(10 %, 300 ms))`, `${(o - b).toFixed(0)} ms (${(((o - b) / b) * 100).toFixed(1)} %)`]);
  }
  report(`Base images (cache: ${cacheRoot()})`, rows);
}

main().finally(() => rmSync(work, { recursive: true, force: true }));
