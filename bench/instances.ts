/**
 * Instances benchmark (issue 9): a real `stratus serve` of this tree running instances, against
 * QEMU run by hand, in the same run.
 *  1. overhead: POST /instances → QEMU's exec, for images of 100 MiB, 1 GiB and 10 GiB (sparse
 *     raw disks: ttylinux's first bytes, then zeros) already in the cache; target ≤ 150 ms and
 *     flat in the size. The exec is read from outside: QEMU's start time in /proc (10 ms ticks,
 *     on the monotonic clock) and the birth time of the instance's qemu.log (opened just before
 *     the spawn). Beside it: the response time, an authenticated GET /instances (HTTP with the
 *     cached password check), the floor by hand (qemu-img create of the overlay,
 *     then the spawn) and the whole `stratus-run-instance` command.
 *  2. boot: the command's start to the SSH banner at its Public ip, against bare
 *     qemu-system-x86_64 (qemu-img create, a NoCloud seed, the same image, vCPUs and RAM),
 *     interleaved; ttylinux and debian-12; target at most max(+10 %, +300 ms).
 *  3. concurrent: run-instance -n 4 of ttylinux until all four answer SSH, against -n 1.
 *  4. first-run: an image not yet cached (a new one each round): run-instance to SSH (download,
 *     verify, boot) against stratus-download-image + qemu-img create + bare QEMU to SSH.
 * Each in user-mode networking and on the server's bridge: one server, restarted in each mode on
 * the same data dir. Bare QEMU on a bridge uses a bridge of its own made by the same code
 * (HostNetwork: a TAP and a fixed DHCP lease), opened before the timed runs.
 * Run: node dist/bench/instances.js [overhead|boot|concurrent|first-run …]
 * STRATUS_BENCH_RUNS (overhead rounds, 5), STRATUS_BENCH_BOOTS (ttylinux rounds, 3),
 * STRATUS_BENCH_DEBIAN (debian-12 rounds, 1; 0 skips debian-12), STRATUS_BENCH_MODES (user,bridge).
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudClient } from '../src/client/cloud-client.js';
import { PdiskClient } from '../src/client/pdisk-client.js';
import { detectAccel } from '../src/compute/drivers/qemu/accel.js';
import { macFor } from '../src/compute/drivers/qemu/qemu-args.js';
import { buildImage } from '../src/images/builder.js';
import type { BuiltImage } from '../src/images/builder.js';
import { loadRecipe } from '../src/images/recipe.js';
import { HostNetwork } from '../src/network/host-network.js';
import { cacheRoot } from '../src/platform/data-dir.js';
import { run } from '../src/platform/run.js';
import { runCli } from '../test/helpers/cli.js';
import { repoRoot } from '../test/helpers/paths.js';
import { makeSigner } from '../test/helpers/signing.js';
import { fileText, freePort, interleave, killLeftovers, median, msSpread as ms, nowMs as now, processStartMs as processStart, report, secondsList, settle, sshBanner, watchFor } from './lib.js';
import type { Interleaved } from './lib.js';
import { derivedImage, publishGz, startBareQemu, startBenchServer } from './server.js';
import type { BareQemu, BenchServer } from './server.js';

type Mode = 'user' | 'bridge';
interface Shape { vcpus: number; memoryMiB: number }
interface Image { id: string; path: string; shape: Shape }

const parts = process.argv.slice(2).length ? process.argv.slice(2) : ['overhead', 'boot', 'concurrent', 'first-run'];
const setting = (name: string, fallback: number, min: number): number => {
  const n = Number(process.env[name] ?? fallback);
  return Number.isInteger(n) && n >= min ? n : fallback;
};
const runs = setting('STRATUS_BENCH_RUNS', 5, 1);
const boots = setting('STRATUS_BENCH_BOOTS', 3, 1);
const debianRounds = setting('STRATUS_BENCH_DEBIAN', 1, 0);
const modes = (process.env.STRATUS_BENCH_MODES ?? 'user,bridge').split(',').filter((m): m is Mode => m === 'user' || m === 'bridge');
const SIZES_MIB = [100, 1024, 10240];
const ADMIN = { username: 'admin', password: 'bench-admin-password' };
const USER = { username: 'bench', password: 'bench-user-password' };
/**
 * Uploads the bench's own images. Not the admin: the cache's origin volumes belong to the admin
 * (StratusLab's pdisk user), and an admin-owned upload of the same content makes the cache's
 * copy a duplicate, which pdisk refuses ("Disk already registered"; see docs/benchmarks.md).
 */
const PUBLISHER = { username: 'publisher', password: 'bench-publisher-password' };
const tag = randomBytes(3).toString('hex');
const work = mkdtempSync(join(tmpdir(), 'stratus-bench-instances-'));
chmodSync(work, 0o711); // the package proxy runs as its own user and must reach its folder in here
const dataDir = join(work, 'data');
const env = { STRATUS_ADMIN_PASSWORD: ADMIN.password, STRATUS_CACHE_DIR: cacheRoot() };
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'key')]);
const publicKey = readFileSync(join(work, 'key.pub'), 'utf8').trim();
const bare = new Set<BareQemu>();
const out: Array<[string, Array<[string, string]>]> = [];
/**
 * ttylinux prints STRATUS_READY <uptime> on its console once dropbear listens and DHCP is bound:
 * when the host saw that line (ms after the start, no probe involved) and the guest's own uptime
 * in it, by label.
 */
const guestReady = new Map<string, Array<{ seen: number; uptime: number }>>();

function watchReady(label: string | undefined, read: () => string, t0: number): () => void {
  if (!label) return () => undefined;
  const stop = watchFor(/STRATUS_READY (\d+\.\d+)/, read, t0);
  return () => {
    const found = stop();
    if (found) guestReady.set(label, [...guestReady.get(label) ?? [], { seen: found.at, uptime: Number(found.match[1]) * 1000 }]);
  };
}

// ---- measuring -------------------------------------------------------------------------------

/** ours − anchor against max(10 %, 300 ms), from the medians. */
function verdict(ours: number[], anchor: number[]): string {
  const d = median(ours) - median(anchor);
  const allowed = Math.max(0.1 * median(anchor), 300);
  return `${d >= 0 ? '+' : ''}${d.toFixed(0)} ms (${((d / median(anchor)) * 100).toFixed(1)} %); allowed +${allowed.toFixed(0)} ms: **${d <= allowed ? 'met' : 'missed'}**`;
}

// ---- ours: the server and its commands -------------------------------------------------------

class Cloud {
  readonly user: CloudClient;
  readonly admin: CloudClient;

  constructor(readonly server: BenchServer, readonly mode: Mode) {
    this.user = new CloudClient(server.url, USER);
    this.admin = new CloudClient(server.url, ADMIN);
  }

  cli(args: string[]): ReturnType<typeof runCli> {
    return runCli(args, { cwd: work, home: work, env: { ...env, STRATUSLAB_ENDPOINT: this.server.url, STRATUSLAB_USERNAME: USER.username, STRATUSLAB_PASSWORD: USER.password } });
  }

  /** `stratus-run-instance -q …`: the VMs' IDs and Public ips. */
  async runInstances(image: string, args: string[]): Promise<Array<{ id: number; ip: string }>> {
    const r = await this.cli(['run-instance', '-q', '-k', join(work, 'key.pub'), ...args, image]);
    if (r.code !== 0) throw new Error(`run-instance failed (${r.code}): ${r.stderr}`);
    return r.stdout.trim().split('\n').map((line) => {
      const m = /^(\d+), (\S+)$/.exec(line.trim());
      if (!m) throw new Error(`run-instance printed ${JSON.stringify(r.stdout)}`);
      return { id: Number(m[1]), ip: m[2] as string };
    });
  }

  /** The command's start to the SSH banners of its `count` VMs (each, in ms from the start). */
  async bootToSsh(image: Image, extra: string[] = [], count = 1, label?: string): Promise<{ each: number[]; started: number }> {
    const t0 = now();
    const vms = await this.runInstances(image.id, ['--cpu', String(image.shape.vcpus), '--ram', String(image.shape.memoryMiB), '--swap', '0', '-n', String(count), ...extra]);
    const started = now() - t0;
    try {
      const each = await Promise.all(vms.map(async (vm) => {
        const stop = watchReady(label, fileText(join(dataDir, 'instances', `one-${vm.id}`, 'serial.log')), t0);
        try {
          await sshBanner(vm.ip, 22);
          return now() - t0;
        } finally {
          stop();
        }
      }));
      return { each, started };
    } finally {
      for (const vm of vms) await this.user.killInstance(vm.id);
    }
  }

  /** One VM: seconds from the command's start to its SSH banner (for interleave). */
  async boot(image: Image, extra: string[] = [], label?: string): Promise<number> {
    return ((await this.bootToSsh(image, extra, 1, label)).each[0] as number) / 1000;
  }

  /**
   * POST /instances (`api`, as the command sends it: the one context method) or the whole
   * command → QEMU's exec, read from outside; the VM is killed at once.
   */
  async execOnce(image: string, via: 'api' | 'command'): Promise<{ exec: number; log: number; response: number }> {
    const wall0 = Date.now(); // the wall clock, as file times are (performance.timeOrigin drifted from it by 110 ms in one run)
    const t0 = now();
    const [vm] = via === 'api'
      ? await this.user.runInstances({ image, cpu: 1, ramMiB: 256, swapMiB: 0, sshKeys: [publicKey], contextMethod: 'one', context: {} })
      : await this.runInstances(image, ['--cpu', '1', '--ram', '256', '--swap', '0']);
    const response = now() - t0;
    if (!vm) throw new Error(`${via}: no VM started`);
    try {
      const dir = join(dataDir, 'instances', `one-${vm.id}`);
      const pid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8').trim());
      return { exec: processStart(pid) - t0, log: statSync(join(dir, 'qemu.log')).birthtimeMs - wall0, response };
    } finally {
      await this.user.killInstance(vm.id);
    }
  }

  /** `stratus-download-image ID -o file` (removed again) against this server. */
  async downloadImage(id: string, file: string): Promise<void> {
    const got = await this.cli(['download-image', id, '-o', file, '--marketplace-endpoint', this.server.url, '--pdisk-endpoint', this.server.url]);
    rmSync(file, { force: true });
    if (got.code !== 0) throw new Error(`download-image failed: ${got.stderr}`);
  }

  /** The cached origin of a Marketplace ID: the raw file in the volume store. */
  async originPath(id: string): Promise<string> {
    const origin = (await this.admin.list()).find((v) => v.identifier === id && v.type === 'MACHINE_IMAGE_ORIGIN');
    if (!origin) throw new Error(`no cached origin of ${id}`);
    return join(dataDir, 'volumes', `${origin.uuid}.raw`);
  }

  /** Every instance still live is killed through the server, then the server stops. */
  async close(): Promise<void> {
    try {
      for (const vm of await this.admin.listInstances()) if (vm.state !== 'Done') await this.admin.killInstance(vm.id).catch(() => undefined);
    } finally {
      await this.server.stop();
    }
  }
}

// ---- the anchor: QEMU by hand ----------------------------------------------------------------

/** How a bare QEMU is networked: a forwarded loopback port, or a TAP on the bench's own bridge. */
interface BareNet { host: string; port: number; args: string[] }
let bareBridge: HostNetwork | undefined;
let bareCount = 0;

async function bareNet(mode: Mode): Promise<BareNet> {
  if (mode === 'user') {
    const port = await freePort();
    return { host: '127.0.0.1', port, args: ['-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:22`, '-device', 'virtio-net-pci,netdev=n0'] };
  }
  bareBridge ??= await HostNetwork.open({ stateDir: join(work, 'bare-network'), bridge: `stbb${tag}` });
  const mac = macFor(`bare-${tag}`);
  const port = bareBridge.ports[0] ?? await bareBridge.attach('bare', 'bench', mac);
  return { host: port.address, port: 22, args: ['-netdev', `tap,id=n0,ifname=${port.ifname},script=no,downscript=no`, '-device', `virtio-net-pci,netdev=n0,mac=${mac}`] };
}

/** Bare QEMU (startBareQemu) on `image`; seconds from `t0` to the SSH banner. */
async function bareBoot(image: string, shape: Shape, net: BareNet, label?: string, t0 = now()): Promise<number> {
  const vm = await startBareQemu({ dir: work, name: `bare-${++bareCount}`, image, ...shape, sshKeys: [publicKey], net: net.args });
  bare.add(vm);
  const stop = watchReady(label, vm.console, t0);
  try {
    await sshBanner(net.host, net.port, () => vm.child.exitCode === null && vm.child.signalCode === null);
    return (now() - t0) / 1000;
  } finally {
    stop();
    await vm.stop();
    bare.delete(vm);
  }
}

/** The floor of item 1 by hand: qemu-img create of the overlay, then QEMU's exec. */
async function floorOnce(origin: string): Promise<number> {
  const overlay = join(work, 'floor.qcow2');
  const t0 = now();
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', origin, overlay]);
  const child = spawn('qemu-system-x86_64', ['-S', '-display', 'none', '-m', '256', '-drive', `file=${overlay},if=virtio`], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    return processStart(child.pid as number) - t0;
  } finally {
    child.kill('SIGKILL');
    await exited;
    rmSync(overlay, { force: true });
  }
}

// ---- the sections ----------------------------------------------------------------------------

/** The first run of each sized image fills the cache (first server only): its time, and download-image's for the same image. */
const firstFill = new Map<number, { fill: number; download: number }>();

async function overhead(cloud: Cloud, sized: Map<number, string>): Promise<void> {
  const rows: Array<[string, string]> = [];
  for (const [mib, id] of sized) {
    const first = await cloud.execOnce(id, 'api');
    if (firstFill.has(mib)) continue;
    await settle();
    const t0 = now();
    await cloud.downloadImage(id, join(work, 'download.img'));
    firstFill.set(mib, { fill: first.response, download: now() - t0 });
  }
  const by = new Map(SIZES_MIB.map((mib) => [mib, [] as Array<{ exec: number; log: number; response: number }>]));
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < SIZES_MIB.length; k++) {
      const mib = SIZES_MIB[(round + k) % SIZES_MIB.length] as number;
      await settle();
      by.get(mib)?.push(await cloud.execOnce(sized.get(mib) as string, 'api'));
    }
  }
  for (const [mib, xs] of by) {
    const size = mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`;
    rows.push([`${size}: POST /instances → QEMU's exec (/proc start time)`, `**${ms(xs.map((x) => x.exec))}**`]);
    rows.push([`${size}: → qemu.log created (just before the spawn)`, ms(xs.map((x) => x.log))]);
    rows.push([`${size}: → response (QEMU's QMP answered)`, ms(xs.map((x) => x.response))]);
  }
  const exec = (mib: number): number => median((by.get(mib) ?? []).map((x) => x.exec));
  rows.push(['flatness: 10 GiB / 100 MiB, exec medians', `${(exec(10240) / exec(100)).toFixed(2)}`]);
  const worst = Math.max(...SIZES_MIB.map(exec));
  rows.push(['target ≤ 150 ms', `${worst.toFixed(0)} ms at worst: **${worst <= 150 ? 'met' : 'missed'}**`]);
  const auth: number[] = [];
  const floor: number[] = [];
  const command: number[] = [];
  const origin = await cloud.originPath(sized.get(1024) as string);
  for (let round = 0; round < runs; round++) {
    const t = now();
    await cloud.user.listInstances();
    auth.push(now() - t);
    await settle();
    floor.push(await floorOnce(origin));
    await settle();
    command.push((await cloud.execOnce(sized.get(1024) as string, 'command')).exec);
  }
  rows.push(['an authenticated GET /instances (HTTP; the password check is cached after the first)', ms(auth)]);
  rows.push(['floor by hand: qemu-img create -b <origin> + spawn → exec (1 GiB)', ms(floor)]);
  rows.push(['`stratus-run-instance` command start → exec (1 GiB; Node start-up, availability check, POST)', ms(command)]);
  out.push([`run-instance overhead, ${cloud.mode} mode (${runs} rounds, sizes in rotating order)`, rows]);
}

function bootRows(name: string, r: Interleaved, ours = 'stratus-run-instance', anchor = 'bare qemu-img create + qemu-system-x86_64', target = true): Array<[string, string]> {
  const o = r.ours.map((x) => x * 1000);
  const a = r.anchor.map((x) => x * 1000);
  const d = median(o) - median(a);
  return [
    [`${name}: ${ours} → SSH banner`, secondsList(o)],
    [`${name}: ${anchor} → SSH banner`, secondsList(a)],
    target
      ? [`${name}: our overhead (target ≤ max(10 %, 300 ms))`, verdict(o, a)]
      : [`${name}: ours − anchor (medians)`, `${d >= 0 ? '+' : ''}${d.toFixed(0)} ms (${((d / median(a)) * 100).toFixed(1)} %)`],
  ];
}

/** The comparison without a probe: when each console printed STRATUS_READY (ttylinux), ours against bare. */
function readyRows(ours: string[], bareLabel: string, target: boolean): Array<[string, string]> {
  const seen = (label: string): number[] => (guestReady.get(label) ?? []).map((x) => x.seen);
  const rows: Array<[string, string]> = [];
  for (const label of [...ours, bareLabel]) {
    const xs = guestReady.get(label) ?? [];
    if (!xs.length) continue;
    rows.push([`ttylinux, STRATUS_READY on the console (dropbear up, DHCP bound), ${label}: seen by the host / guest uptime in it`, `${secondsList(seen(label))} / ${secondsList(xs.map((x) => x.uptime))}`]);
    if (label === bareLabel || !seen(bareLabel).length) continue;
    const d = median(seen(label)) - median(seen(bareLabel));
    rows.push([`ttylinux, STRATUS_READY seen, ${label} − ${bareLabel}${target ? ' (target ≤ max(10 %, 300 ms))' : ''}`,
      target ? verdict(seen(label), seen(bareLabel)) : `${d >= 0 ? '+' : ''}${d.toFixed(0)} ms`]);
  }
  guestReady.clear();
  return rows;
}

async function boot(cloud: Cloud, tty: Image, debian: Image | undefined): Promise<void> {
  const net = await bareNet(cloud.mode);
  const rows: Array<[string, string]> = [];
  const ci = ['--context-method', 'cloud-init'];
  // untimed warm-up of both sides (page cache, JIT, the bridge's first lease)
  await cloud.boot(tty, ci);
  await bareBoot(tty.path, tty.shape, net);
  const t = await interleave(boots, () => cloud.boot(tty, ci, 'ours, NoCloud seed'), () => bareBoot(tty.path, tty.shape, net, 'bare'));
  rows.push(...bootRows(`ttylinux (${boots} rounds, NoCloud seed both sides)`, t));
  const one = await interleave(boots, () => cloud.boot(tty, [], 'ours, context CD (one)'), () => bareBoot(tty.path, tty.shape, net, 'bare'));
  rows.push(...bootRows(`ttylinux (${boots} rounds, ours with the default context method, one: the context CD)`, one));
  rows.push(...readyRows(['ours, NoCloud seed', 'ours, context CD (one)'], 'bare', true));
  if (debian) {
    const d = await interleave(debianRounds, () => cloud.boot(debian, ci), () => bareBoot(debian.path, debian.shape, net));
    rows.push(...bootRows(`debian-12 (${debianRounds} round${debianRounds > 1 ? 's' : ''}, no warm-up)`, d));
  }
  out.push([`boot to SSH, ${cloud.mode} mode`, rows]);
}

async function concurrent(cloud: Cloud, tty: Image): Promise<void> {
  const single: number[] = [];
  const all: number[] = [];
  const first: number[] = [];
  const started: number[] = [];
  for (let round = 0; round < boots; round++) {
    const four = async (): Promise<void> => {
      await settle();
      const r = await cloud.bootToSsh(tty, [], 4);
      all.push(Math.max(...r.each));
      first.push(Math.min(...r.each));
      started.push(r.started);
    };
    const one = async (): Promise<void> => {
      await settle();
      single.push((await cloud.boot(tty)) * 1000);
    };
    if (round % 2 === 0) {
      await one();
      await four();
    } else {
      await four();
      await one();
    }
    process.stderr.write(`  round ${round + 1}/${boots}: one ${((single.at(-1) ?? 0) / 1000).toFixed(2)} s, four ${((all.at(-1) ?? 0) / 1000).toFixed(2)} s\n`);
  }
  out.push([`four ttylinux at once, ${cloud.mode} mode (${boots} rounds, default context method, 2 cores, TCG)`, [
    ['one instance alone: run-instance → SSH banner', secondsList(single)],
    ['`run-instance -n 4`: → all four answer SSH', secondsList(all)],
    ['`run-instance -n 4`: → the first answers SSH', secondsList(first)],
    ['`run-instance -n 4`: → the command returned (four QEMUs started)', secondsList(started)],
    ['ratio all four / one alone (medians)', (median(all) / median(single)).toFixed(2)],
  ]]);
}

async function firstRun(cloud: Cloud, signer: ReturnType<typeof makeSigner>, base: Image, name: string, rounds: number): Promise<void> {
  const net = await bareNet(cloud.mode);
  const images: Image[] = [];
  for (let i = 0; i < rounds; i++) {
    // A new image each round: the base with a marker in one more MiB (it boots the same).
    const img = await derivedImage(`${name}-${base.id}-first-${cloud.mode}-${i}`, base.path, statSync(base.path).size + 2 ** 20, { marker: `stratus bench first run ${cloud.mode} ${i}` });
    const { identifier } = await publishGz(cloud.server.url, PUBLISHER, signer, img, { title: `${name}-first-${i}`, os: name }, 'PUBLIC');
    images.push({ ...base, id: identifier });
  }
  let o = 0;
  let a = 0;
  const download = join(work, 'download.img');
  const started: number[] = [];
  const downloaded: number[] = [];
  const watch = name === 'ttylinux';
  const r = await interleave(rounds, async () => {
    const run = await cloud.bootToSsh(images[o++] as Image, ['--context-method', 'cloud-init'], 1, watch ? 'ours, first run' : undefined);
    started.push(run.started);
    return (run.each[0] as number) / 1000;
  }, async () => {
    const t0 = now();
    const got = await cloud.cli(['download-image', (images[a++] as Image).id, '-o', download, '--marketplace-endpoint', cloud.server.url, '--pdisk-endpoint', cloud.server.url]);
    if (got.code !== 0) throw new Error(`download-image failed: ${got.stderr}`);
    downloaded.push(now() - t0); // the boot below reads the file, so it stays until then
    try {
      return await bareBoot(download, base.shape, net, watch ? 'bare, first run' : undefined, t0);
    } finally {
      rmSync(download, { force: true });
    }
  });
  out.push([`first run of an image not yet cached, ${cloud.mode} mode`, [
    ...bootRows(`${name} (${rounds} round${rounds > 1 ? 's' : ''}, a new image each)`, r,
      'stratus-run-instance, not cached (download, verify, boot)', 'stratus-download-image + qemu-img create + qemu-system-x86_64', false),
    [`${name}: stratus-run-instance returned (image fetched into the cache, QEMU started)`, secondsList(started)],
    [`${name}: stratus-download-image done`, secondsList(downloaded)],
    ...readyRows(['ours, first run'], 'bare, first run', false),
  ]]);
}

// ---- the run ---------------------------------------------------------------------------------

function recipe(built: BuiltImage, name: string): Image {
  const boot = loadRecipe(join(repoRoot, 'recipes'), name).boot;
  return { id: built.identifier, path: built.path, shape: { vcpus: boot.vcpus, memoryMiB: boot.memoryMiB } };
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const loads: number[] = [];
  setInterval(() => loads.push(loadavg()[0] as number), 30_000).unref();
  const tty = recipe(await buildImage(loadRecipe(join(repoRoot, 'recipes'), 'ttylinux')), 'ttylinux');
  const debian = debianRounds > 0 ? recipe(await buildImage(loadRecipe(join(repoRoot, 'recipes'), 'debian-12')), 'debian-12') : undefined;
  const sizedImages = new Map<number, Awaited<ReturnType<typeof derivedImage>>>();
  if (parts.includes('overhead')) {
    for (const mib of SIZES_MIB) sizedImages.set(mib, await derivedImage(`ttylinux-${tty.id}-${mib}m`, tty.path, mib * 2 ** 20, { level: 1 }));
  }
  const proxyPort = 20000 + (parseInt(tag, 16) % 12000);
  const signer = makeSigner(work, 'Bench Signer', 'bench@example.org');
  const sized = new Map<number, string>();
  for (const [i, mode] of modes.entries()) {
    if (i === 0) {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, 'stratus.cfg'), `[network]\nbridge = stb${tag}\nproxy_port = ${proxyPort}\nproxy_dir = ${join(work, 'proxy')}\n`);
    }
    const cloud = new Cloud(await startBenchServer(dataDir, ['--network', mode], env), mode);
    try {
      if (i === 0) {
        for (const account of [USER, PUBLISHER]) await new PdiskClient(cloud.server.url, ADMIN).addUser(account);
        for (const name of debian ? ['ttylinux', 'debian-12'] : ['ttylinux']) {
          const r = await runCli(['build-base-image', '--recipe', name, '--data-dir', dataDir], { cwd: work, home: work, env: { ...env, STRATUSLAB_MARKETPLACE_ENDPOINT: cloud.server.url, STRATUSLAB_PDISK_ENDPOINT: cloud.server.url } });
          if (r.code !== 0) throw new Error(`build-base-image ${name}: ${r.stderr}`);
        }
        for (const [mib, img] of sizedImages) sized.set(mib, (await publishGz(cloud.server.url, PUBLISHER, signer, img, { title: `ttylinux-${mib}m`, os: 'ttylinux' }, 'PUBLIC')).identifier);
      }
      process.stderr.write(`# ${mode} mode: ${cloud.server.url}\n`);
      if (parts.includes('overhead')) await overhead(cloud, sized);
      if (parts.includes('boot')) await boot(cloud, tty, debian);
      if (parts.includes('concurrent')) await concurrent(cloud, tty);
      if (parts.includes('first-run')) {
        await firstRun(cloud, signer, tty, 'ttylinux', boots > 1 ? 2 : 1);
        if (debian && i === modes.length - 1) await firstRun(cloud, signer, debian, 'debian-12', debianRounds);
      }
    } finally {
      await cloud.close();
    }
  }
  const load1 = loadavg();
  if (firstFill.size) {
    out.unshift(['first run of each sized image: POST /instances → response (fetch from pdisk, verify, import, snapshot, QEMU), and `stratus-download-image` of it',
      [...firstFill].map(([mib, t]): [string, string] => [mib >= 1024 ? `${mib / 1024} GiB` : `${mib} MiB`, `${(t.fill / 1000).toFixed(2)} s; download-image ${(t.download / 1000).toFixed(2)} s`])]);
  }
  out.unshift(['machine', [
    ['accelerator', await detectAccel()],
    ['load average (1, 5, 15 min) at the start / at the end', `${load0.map((x) => x.toFixed(2)).join(', ')} / ${load1.map((x) => x.toFixed(2)).join(', ')}`],
    ['1-min load average every 30 s during the run: median (range)', loads.length ? `${median(loads).toFixed(2)} (${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)})` : '(run under 30 s)'],
  ]]);
  for (const [title, rows] of out) report(`Instances: ${title}`, rows);
}

/** Whatever is left: bare QEMUs, the bench's bridge, the work dir (the servers killed their VMs on close). */
async function cleanUp(): Promise<void> {
  for (const vm of bare) await vm.stop();
  await bareBridge?.close().catch((e: Error) => process.stderr.write(`bench bridge: ${e.message}\n`));
  killLeftovers(work);
  rmSync(work, { recursive: true, force: true });
}

process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
try {
  await main();
} finally {
  await cleanUp();
}
