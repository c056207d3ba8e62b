/**
 * create-image end-to-end benchmark (issue 10): `stratus-create-image -a apache2 -s setup.sh`
 * of the debian-12 base against a real `stratus serve` of this tree, from the command's start
 * until the instance is Done and the new volume exists (the Epilog's save, with its SHA-1 and
 * the three other checksums), against, in the same run and rounds:
 *  - virt-customize (libguestfs-tools): `cp base work.raw && virt-customize -a work.raw
 *    --install apache2 --run setup.sh && sha1sum work.raw`;
 *  - Packer 1.6's QEMU builder (Debian's packer): the base as disk_image, root over SSH with a
 *    key from a NoCloud seed, a shell provisioner (apt-get install apache2, then setup.sh),
 *    poweroff; then `sha1sum` of its output disk.
 * The same base image, setup.sh, vCPUs and RAM on every side, and the packages through the
 * same apt proxy: the server's apt-cacher-ng on its bridge (so the server runs as root in
 * bridge mode). One untimed warm-up run of each side first fills that proxy (and the
 * supermin appliance, the page cache), so the timed runs all find it equally warm.
 * "cold": ours with an empty step cache (layers are kept per account: a new account each
 * round); "warm": ours rerun by the account of the warm-up, whose layers hold every step,
 * so only the save is left. Warm is measured only when the server keeps layers.
 * Missing tools are installed with apt-get (libguestfs-tools, a kernel in /boot for supermin,
 * packer); a side that still cannot run is reported with the reason and the others measured.
 * Run: npm run bench create-image   (or node dist/bench/create-image-e2e.js)
 * STRATUS_BENCH_RUNS rounds (default 2), STRATUS_BENCH_SIDES (ours,virt-customize,packer),
 * STRATUS_BENCH_CREATE_IMAGE_CLI: the cli.js that runs create-image, and STRATUS_BENCH_SERVER_CLI
 * the one that serves (default this tree's, both): to measure branches not merged yet.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudClient } from '../src/client/cloud-client.js';
import { PdiskClient } from '../src/client/pdisk-client.js';
import { detectAccel } from '../src/compute/drivers/qemu/accel.js';
import { identifierFromSha1 } from '../src/domain/identifier.js';
import { buildImage } from '../src/images/builder.js';
import { loadRecipe } from '../src/images/recipe.js';
import { cacheRoot } from '../src/platform/data-dir.js';
import { runCli } from '../test/helpers/cli.js';
import { cliPath, repoRoot } from '../test/helpers/paths.js';
import { checkImage, guestfsEnv, packerOnce, packerReady, sha1sum, virtCustomizeOnce, virtCustomizeReady } from './e2e/anchors.js';
import type { Readiness, Recipe, Timed } from './e2e/anchors.js';
import { killLeftovers, median, ratioSpread, report, settle, spread } from './lib.js';
import { startBenchServer } from './server.js';

type Side = 'ours' | 'virt-customize' | 'packer';
const runs = (() => {
  const n = Number(process.env.STRATUS_BENCH_RUNS ?? 2);
  return Number.isInteger(n) && n > 0 ? n : 2;
})();
const wanted = (process.env.STRATUS_BENCH_SIDES ?? 'ours,virt-customize,packer').split(',').map((s) => s.trim());
const createCli = process.env.STRATUS_BENCH_CREATE_IMAGE_CLI ?? cliPath;
const serverCli = process.env.STRATUS_BENCH_SERVER_CLI ?? cliPath;
const EXPECTED = 'Cloudy Weather Expected';
const ADMIN = { username: 'admin', password: 'bench-admin-password' };
const tag = randomBytes(3).toString('hex');
const work = mkdtempSync(join(tmpdir(), 'stratus-bench-e2e-'));
chmodSync(work, 0o711); // apt-cacher-ng runs as its own user and must reach its folder in here
const logs = join(tmpdir(), 'stratus-bench-e2e-logs', tag); // kept: what each run printed
mkdirSync(logs, { recursive: true });
const dataDir = join(work, 'data');
const env = { STRATUS_ADMIN_PASSWORD: ADMIN.password, STRATUS_CACHE_DIR: cacheRoot() };
const now = (): number => Number(process.hrtime.bigint()) / 1e9;
const load1 = (): number => loadavg()[0] as number;

// ---- ours ------------------------------------------------------------------------------------

interface Account { username: string; password: string }

/** Whether the server keeps step layers: its answer for a key nobody has (404 either way, but ROUTE_NOT_FOUND without the routes). */
async function keepsLayers(url: string, who: Account): Promise<boolean> {
  const res = await fetch(`${url}/instances/layers/${'0'.repeat(64)}`, { headers: { authorization: `Basic ${Buffer.from(`${who.username}:${who.password}`).toString('base64')}` } });
  await res.arrayBuffer();
  return res.headers.get('x-stratus-error') !== 'ROUTE_NOT_FOUND' && res.status !== 405;
}

/** `stratus-create-image` as `who`; done when the instance is Done and the new volume exists. */
async function oursOnce(url: string, who: Account, r: Recipe, baseId: string, key: string, label: string): Promise<Timed> {
  const cloud = new CloudClient(url, who);
  const pdisk = new PdiskClient(url, who);
  const title = `bench-e2e-${tag}-${label}`;
  const log = join(logs, `${label}.log`);
  // -v: the command's own timing of each step, in the log
  const args = [createCli, 'create-image', '-v', '-k', key, '--cpu', String(r.vcpus), '--ram', String(r.memoryMiB), '--swap', '0',
    '-a', 'apache2', '-s', r.setup, '--title', title, '--comment', 'create-image benchmark', '--author', 'Bench', '--author-email', 'bench@example.org', baseId];
  appendFileSync(log, `$ node ${args.join(' ')}\n`);
  const t0 = now();
  let printed = '';
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: work, stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, STRATUSLAB_ENDPOINT: url, STRATUSLAB_USERNAME: who.username, STRATUSLAB_PASSWORD: who.password },
    });
    child.stdout.on('data', (d: Buffer) => {
      printed += d.toString();
      appendFileSync(log, d);
    });
    child.stderr.on('data', (d: Buffer) => appendFileSync(log, d));
    child.on('error', reject);
    child.on('close', (c) => resolve(c ?? -1));
  });
  const returned = now();
  // The VM's ID as the command printed it (§3: "Machine 1 (vm ID: <id>)"); a Done instance is not listed.
  const vmId = Number(/\(vm ID: (\d+)\)/.exec(printed)?.[1] ?? NaN);
  if (code !== 0) {
    if (Number.isInteger(vmId)) await cloud.killInstance(vmId).catch(() => undefined);
    throw new Error(`stratus-create-image exited ${code}; the end of ${log}:\n${readFileSync(log, 'utf8').trimEnd().split('\n').slice(-15).join('\n')}`);
  }
  if (!Number.isInteger(vmId)) throw new Error(`stratus-create-image printed no "vm ID" (see ${log})`);
  for (;;) {
    const state = (await cloud.instance(vmId)).state;
    if (state === 'Failed' || state === 'Unknown') throw new Error(`instance ${vmId} went ${state} after create-image (see ${log})`);
    const volume = state === 'Done' ? (await pdisk.list()).find((v) => v.tag === title && v.identifier) : undefined;
    if (volume) {
      const done = now();
      return {
        // The Epilog saves a standalone qcow2 of the stored clusters; its checksums are the file's.
        secs: done - t0, file: join(dataDir, 'volumes', `${volume.uuid}.${volume.format}`), format: volume.format === 'qcow2' ? 'qcow2' : 'raw', sha1: volume.identifier, volume: volume.uuid,
        parts: { 'create-image command': returned - t0, 'then Epilog to Done + volume listed': done - returned },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// ---- the run ---------------------------------------------------------------------------------

interface Row { side: string; secs: number[]; load: number[]; parts: Array<Record<string, number>>; made: string }

function row(side: string): Row {
  return { side, secs: [], load: [], parts: [], made: '' };
}

function partsLine(r: Row): string {
  const names = Object.keys(r.parts[0] ?? {});
  return names.map((n) => `${n} ${median(r.parts.map((p) => p[n] ?? 0)).toFixed(1)} s`).join(', ');
}

const loadLine = (r: Row): string => r.load.map((l) => l.toFixed(1)).join(', ');

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('this benchmark runs the server in bridge mode (its package proxy is the apt proxy of every side): run it as root');
  const load0 = loadavg();
  const loads: number[] = [];
  setInterval(() => loads.push(load1()), 30_000).unref();
  const accel = await detectAccel();
  const recipeDef = loadRecipe(join(repoRoot, 'recipes'), 'debian-12');
  const built = await buildImage(recipeDef);
  const setup = join(work, 'setup.sh');
  writeFileSync(setup, `#!/bin/sh\nset -e\nmkdir -p /var/www/html\necho '${EXPECTED}' > /var/www/html/cloud.txt\n`, { mode: 0o755 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'key')]);
  const publicKey = readFileSync(join(work, 'key.pub'), 'utf8').trim();

  // Which sides run, and why not.
  const ready = new Map<Side, Readiness>();
  if (wanted.includes('ours')) {
    const help = spawnSync(process.execPath, [createCli, 'create-image', '--help'], { encoding: 'utf8' });
    ready.set('ours', help.status === 0 && /--author-email/.test(help.stdout)
      ? { ok: true, version: createCli, installed: [] }
      : { ok: false, version: createCli, installed: [], why: `${createCli} has no create-image command (${(help.stderr || help.stdout).trim().split('\n')[0]}); set STRATUS_BENCH_CREATE_IMAGE_CLI to a build that has it` });
  }
  if (wanted.includes('virt-customize')) ready.set('virt-customize', virtCustomizeReady());
  if (wanted.includes('packer')) ready.set('packer', packerReady());
  const sides = [...ready].filter(([, r]) => r.ok).map(([s]) => s);
  for (const [s, r] of ready) if (!r.ok) process.stderr.write(`${s} cannot run here: ${r.why}\n`);
  if (sides.length === 0) throw new Error('no side can run');

  const proxyPort = 20000 + (parseInt(tag, 16) % 12000);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'stratus.cfg'), `[network]\nbridge = stbe${tag}\nproxy_port = ${proxyPort}\nproxy_dir = ${join(work, 'proxy')}\n`);
  const server = await startBenchServer(dataDir, ['--network', 'bridge'], env, serverCli);
  const rows = new Map<string, Row>();
  let layers = false;
  let booted = 'none';
  try {
    const admin = new PdiskClient(server.url, ADMIN);
    const warmUser: Account = { username: 'warm', password: 'bench-warm-password' };
    await admin.addUser(warmUser);
    // (this tree's command: it only publishes the cached image through the server's API)
    const published = await runCli(['build-base-image', '--recipe', 'debian-12', '--data-dir', dataDir], { cwd: work, home: work, env: { ...env, STRATUSLAB_MARKETPLACE_ENDPOINT: server.url, STRATUSLAB_PDISK_ENDPOINT: server.url } });
    if (published.code !== 0) throw new Error(`build-base-image debian-12: ${published.stderr}`);
    const address = (JSON.parse(execFileSync('ip', ['-j', '-4', 'addr', 'show', 'dev', `stbe${tag}`], { encoding: 'utf8' })) as Array<{ addr_info: Array<{ local: string }> }>)[0]?.addr_info[0]?.local;
    if (!address) throw new Error(`no address on the server's bridge stbe${tag}`);
    const recipe: Recipe = { base: built.path, setup, proxyUrl: `http://${address}:${proxyPort}`, vcpus: recipeDef.boot.vcpus, memoryMiB: recipeDef.boot.memoryMiB };
    layers = sides.includes('ours') && await keepsLayers(server.url, warmUser);
    const gfsEnv = guestfsEnv(accel);
    let packerRun = 0;
    let coldUsers = 0;
    const checked = new Set<string>();

    /** One run of a side; its result checked (the first time, also the SHA-1), then removed. */
    const once = async (side: string, label: string): Promise<Timed & { made: string }> => {
      const slug = `${side.replace(/ /g, '-')}-${label}`;
      const log = join(logs, `${slug}.log`);
      let t: Timed;
      if (side === 'ours warm') {
        t = await oursOnce(server.url, warmUser, recipe, built.identifier, join(work, 'key.pub'), slug);
      } else if (side === 'ours cold' || side === 'ours') {
        const fresh = { username: `cold${++coldUsers}`, password: 'bench-cold-password' };
        await admin.addUser(fresh);
        t = await oursOnce(server.url, fresh, recipe, built.identifier, join(work, 'key.pub'), slug);
      } else if (side === 'virt-customize') {
        t = await virtCustomizeOnce(recipe, work, gfsEnv, log);
      } else {
        t = await packerOnce(recipe, work, { key: join(work, 'key'), publicKey, accel, run: ++packerRun }, log);
      }
      const made = `${(statSync(t.file).size / 2 ** 20).toFixed(0)} MiB ${t.format ?? 'raw'}`;
      const bad = checkImage(t.file, EXPECTED, t.format);
      if (bad) throw new Error(`${side}: ${bad}`);
      if (!checked.has(side)) {
        checked.add(side);
        const sha1 = await sha1sum(t.file, log);
        const ok = side.startsWith('ours') ? identifierFromSha1(sha1) === t.sha1 : sha1 === t.sha1;
        if (!ok) throw new Error(`${side}: the image's SHA-1 ${sha1} does not match what the side gave (${t.sha1})`);
      }
      if (t.volume) await admin.delete(t.volume);
      else rmSync(t.file, { force: true });
      return { ...t, made };
    };

    // Untimed warm-up: the apt proxy, the supermin appliance, the page cache; ours fills the warm account's layers.
    const oursSides = sides.includes('ours') ? (layers ? ['ours cold', 'ours warm'] : ['ours cold']) : [];
    const order = [...oursSides, ...sides.filter((s) => s !== 'ours')];
    // (ours cold needs none of its own when ours warm's warm-up ran: its rounds start from a new account anyway)
    for (const side of order.filter((s) => !(s === 'ours cold' && layers))) {
      process.stderr.write(`warm-up: ${side}…\n`);
      const t0 = now();
      await once(side, 'warm-up');
      process.stderr.write(`  ${(now() - t0).toFixed(1)} s\n`);
    }
    // Ours' warm-up asked the server for the debian-12 base booted and saved running (its booted
    // base, made in the background like supermin's appliance): the timed cold runs resume it.
    if (sides.includes('ours')) booted = await waitForBootedBase(dataDir, 900_000);
    for (const side of order) rows.set(side, row(side));
    for (let round = 0; round < runs; round++) {
      const turn = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
      const line: string[] = [];
      for (const side of turn) {
        await settle();
        const r = rows.get(side) as Row;
        r.load.push(load1());
        const t = await once(side, `round${round + 1}`);
        r.secs.push(t.secs);
        r.parts.push(t.parts);
        r.made = t.made;
        line.push(`${side} ${t.secs.toFixed(1)} s`);
      }
      process.stderr.write(`  round ${round + 1}/${runs}: ${line.join(', ')}\n`);
    }
  } finally {
    await server.stop();
  }

  const out: Array<[string, string]> = [];
  const name: Record<string, string> = {
    'ours cold': 'ours, step cache empty (the VM resumes the booted base): stratus-create-image → instance Done, volume saved (SHA-1 and 3 more checksums)',
    'ours warm': 'ours, step cache warm: the same rerun (every step a layer; only the save left)',
    'virt-customize': 'virt-customize: cp + virt-customize --install apache2 --run setup.sh + sha1sum',
    packer: 'Packer 1.6 QEMU builder: seed + packer build + sha1sum of its raw disk',
  };
  for (const r of rows.values()) {
    out.push([name[r.side] ?? r.side, `${spread(r.secs, 1)}; 1-min load at each start: ${loadLine(r)}`]);
    out.push([`  where the time went (medians); the image made`, `${partsLine(r)}; ${r.made}`]);
  }
  for (const ours of ['ours cold', 'ours warm']) {
    const o = rows.get(ours);
    if (!o) continue;
    for (const anchor of ['virt-customize', 'packer']) {
      const a = rows.get(anchor);
      if (!a) continue;
      out.push([`ratio ${ours} / ${anchor}, each round (target < 1.0)`, `**${ratioSpread(o.secs.map((x, i) => x / (a.secs[i] as number)))}**`]);
    }
  }
  for (const [s, r] of ready) {
    out.push([`${s}: ${r.ok ? 'ran' : 'did not run'}`, `${r.version}${r.installed.length ? `; installed by this run: ${r.installed.join(', ')}` : ''}${r.why ? `; why not: ${r.why}` : ''}`]);
  }
  if (ready.get('ours')?.ok && !layers) out.push(['ours, step cache warm', 'not measured: this server keeps no step layers (GET /instances/layers/… is ROUTE_NOT_FOUND)']);
  out.push(['booted base (made in the background after ours\' warm-up asked for it)', booted]);
  out.push(['builds', `server: ${serverCli}; create-image: ${createCli}`]);
  out.push(['accelerator', `${accel}${accel === 'tcg' ? ' (all sides: Stratus\'s probe, Packer accelerator tcg, libguestfs force_tcg)' : ''}`]);
  out.push(['load average (1, 5, 15 min) at the start / at the end', `${load0.map((x) => x.toFixed(2)).join(', ')} / ${loadavg().map((x) => x.toFixed(2)).join(', ')}`]);
  out.push(['1-min load average every 30 s: median (range)', loads.length ? `${median(loads).toFixed(2)} (${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)})` : '(under 30 s)']);
  out.push(['method', `one untimed warm-up run of each side (the apt proxy, supermin's appliance, ours' warm layers), then ${runs} rounds of every side in rotating order, \`sync\` before each run; median (range); logs in ${logs}`]);
  report('create-image end to end: debian-12 + apache2 + setup.sh, against virt-customize and Packer', out);
}

/**
 * Waits for the server's first booted base (`<data-dir>/booted/<key>/base.json`) and says how
 * long it took to make, from its directory's start to its record.
 */
async function waitForBootedBase(dataDir: string, timeoutMs: number): Promise<string> {
  const dir = join(dataDir, 'booted');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const names = existsSync(dir) ? readdirSync(dir) : [];
    const failed = names.find((n) => n.endsWith('.failed'));
    if (failed) throw new Error(`the server could not make its booted base: ${readFileSync(join(dir, failed), 'utf8')}`);
    const ready = names.find((n) => /^[0-9a-f]{24}$/.test(n) && existsSync(join(dir, n, 'base.json')));
    if (ready) {
      const made = JSON.parse(readFileSync(join(dir, ready, 'base.json'), 'utf8')) as { made: string };
      const state = statSync(join(dir, ready, 'state')).size;
      const disk = statSync(join(dir, ready, 'disk.qcow2')).size;
      return `${ready}: made ${made.made}; state ${(state / 2 ** 20).toFixed(0)} MiB, disk delta ${(disk / 2 ** 20).toFixed(0)} MiB`;
    }
    if (Date.now() > deadline) throw new Error(`no booted base in ${dir} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

/** Whatever is left: a QEMU of this run's (a Packer or libguestfs one), the work dir. */
function cleanUp(): void {
  killLeftovers(work);
  rmSync(work, { recursive: true, force: true });
}

process.once('SIGINT', () => {
  cleanUp();
  process.exit(130);
});
try {
  await main();
} finally {
  cleanUp();
}
