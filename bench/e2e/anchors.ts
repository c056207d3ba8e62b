/**
 * The anchors of the create-image end-to-end benchmark (bench/create-image-e2e.ts):
 * `virt-customize` (Debian's libguestfs-tools) and Packer 1.6's QEMU builder (Debian's packer),
 * each making a standalone image of the debian-12 base with apache2 and setup.sh, then its
 * SHA-1. This folder is not a benchmark of its own: run-bench.mjs runs dist/bench/*.js only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, appendFileSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Timed {
  /** Seconds, the whole of it. */
  secs: number;
  /** The standalone image made, and its SHA-1 (hex). */
  file: string;
  sha1: string;
  /** Seconds of each part, by name. */
  parts: Record<string, number>;
  /** The pdisk volume that holds `file` (ours), removed through the server after the run. */
  volume?: string;
  /** The file's format (raw unless said). */
  format?: 'raw' | 'qcow2';
}

/** Whether a side can run here: what it needed installed, and why not when it cannot. */
export interface Readiness {
  ok: boolean;
  version: string;
  installed: string[];
  why?: string;
}

const now = (): number => Number(process.hrtime.bigint()) / 1e9;

/** Runs a command, its output appended to `log`; rejects with the log's last lines when it fails. */
export function runLogged(cmd: string, args: string[], o: { log: string; env?: Record<string, string>; cwd?: string }): Promise<void> {
  appendFileSync(o.log, `\n$ ${[cmd, ...args].join(' ')}\n`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => appendFileSync(o.log, d));
    child.stderr.on('data', (d: Buffer) => appendFileSync(o.log, d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const tail = readFileSync(o.log, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      reject(new Error(`${cmd} failed (${signal ?? `exit ${code}`}); the end of ${o.log}:\n${tail}`));
    });
  });
}

export async function sha1sum(file: string, log: string): Promise<string> {
  await runLogged('sh', ['-c', `sha1sum "$1" > "$1.sha1"`, 'sh', file], { log });
  const sha1 = readFileSync(`${file}.sha1`, 'utf8').split(' ')[0] ?? '';
  rmSync(`${file}.sha1`);
  return sha1;
}

const has = (cmd: string): boolean => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** `apt-get install --no-install-recommends`, with an `apt-get update` first if the lists are stale. */
function aptInstall(packages: string[]): string | undefined {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): ReturnType<typeof spawnSync> => spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { env, encoding: 'utf8' });
  process.stderr.write(`installing ${packages.join(' ')} (apt-get)…\n`);
  let r = install();
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { env, stdio: 'ignore' });
    r = install();
  }
  return r.status === 0 ? undefined : `apt-get install ${packages.join(' ')} failed: ${String(r.stderr).trim().split('\n').slice(-3).join(' ')}`;
}

/** Installs `pkg` when `cmd` is missing (noted in `installed`); why it could not, or undefined. */
function ensureCommand(cmd: string, pkg: string, installed: string[]): string | undefined {
  if (has(cmd)) return undefined;
  const failed = aptInstall([pkg]);
  if (!failed) installed.push(pkg);
  return failed;
}

/** The kernels supermin could use for the libguestfs appliance: /boot/vmlinuz-*, readable. */
function readableKernels(): string[] {
  return (existsSync('/boot') ? readdirSync('/boot') : []).filter((f) => f.startsWith('vmlinuz-')).filter((f) => {
    try {
      accessSync(join('/boot', f), constants.R_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * virt-customize, installed if missing (libguestfs-tools), and a kernel for its appliance:
 * supermin builds the appliance from the host's kernel in /boot, and a container or
 * micro-VM host may have none (this machine had no /boot at all), so Debian's
 * linux-image-amd64 is installed then (libguestfs0 recommends a kernel).
 */
export function virtCustomizeReady(): Readiness {
  const installed: string[] = [];
  const missing = ensureCommand('virt-customize', 'libguestfs-tools', installed);
  if (missing) return { ok: false, version: '', installed, why: missing };
  if (readableKernels().length === 0) {
    const failed = aptInstall(['linux-image-amd64']);
    if (failed) return { ok: false, version: '', installed, why: `no readable kernel in /boot for supermin, and ${failed}` };
    installed.push('linux-image-amd64');
    if (readableKernels().length === 0) return { ok: false, version: '', installed, why: 'no readable /boot/vmlinuz-* for supermin, even after installing linux-image-amd64' };
  }
  const v = spawnSync('virt-customize', ['--version'], { encoding: 'utf8' });
  return { ok: v.status === 0, version: v.stdout.trim(), installed, ...(v.status === 0 ? {} : { why: `virt-customize --version: ${v.stderr.trim()}` }) };
}

/** Packer, installed if missing (Debian's packer, 1.6.6 on bookworm: the QEMU builder is built in). */
export function packerReady(): Readiness {
  const installed: string[] = [];
  const missing = ensureCommand('packer', 'packer', installed);
  if (missing) return { ok: false, version: '', installed, why: missing };
  const v = spawnSync('packer', ['version'], { encoding: 'utf8' });
  const version = v.stdout.trim().split('\n')[0] ?? '';
  if (v.status !== 0) return { ok: false, version, installed, why: `packer version: ${v.stderr.trim()}` };
  return { ok: true, version, installed };
}

/**
 * The environment of libguestfs: the direct backend (no libvirtd here), and TCG forced when
 * KVM does not run guests. /dev/kvm may open and answer query-kvm while guest code fails with
 * "KVM internal error … emulation failure" (this host); libguestfs then picks KVM and its
 * appliance hangs after "Booting from ROM…" (libguestfs-test-tool ran 10 minutes for nothing).
 */
export function guestfsEnv(accel: 'kvm' | 'tcg'): Record<string, string> {
  return { LIBGUESTFS_BACKEND: 'direct', ...(accel === 'tcg' ? { LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' } : {}) };
}

export interface Recipe {
  /** The debian-12 base image (raw). */
  base: string;
  /** The setup script, the same file on every side. */
  setup: string;
  /** apt's proxy for the guest (the server's apt-cacher-ng), the same for every side. */
  proxyUrl: string;
  vcpus: number;
  memoryMiB: number;
}

/**
 * `cp base work.raw && virt-customize -a work.raw --install apache2 --run setup.sh && sha1sum
 * work.raw`. `--write` of apt's proxy setting comes first, so the packages come through the
 * same proxy as the other sides (Stratus gives its guests the proxy at boot, as vendor-data or
 * on the context CD); `--smp` gives the appliance the vCPUs the other sides' VMs have.
 */
export async function virtCustomizeOnce(r: Recipe, dir: string, env: Record<string, string>, log: string): Promise<Timed> {
  const file = join(dir, 'virt-customize.raw');
  rmSync(file, { force: true });
  const t0 = now();
  await runLogged('cp', [r.base, file], { log });
  const t1 = now();
  await runLogged('virt-customize', ['-a', file, '--smp', String(r.vcpus),
    '--write', `/etc/apt/apt.conf.d/90bench-proxy:Acquire::http::Proxy "${r.proxyUrl}";`,
    '--install', 'apache2', '--run', r.setup], { log, env });
  const t2 = now();
  const sha1 = await sha1sum(file, log);
  const t3 = now();
  return { secs: t3 - t0, file, sha1, parts: { cp: t1 - t0, 'virt-customize': t2 - t1, sha1sum: t3 - t2 } };
}

/**
 * The Packer template: the QEMU builder on the base image (disk_image: Packer copies it into
 * its output as the VM's disk, raw like Stratus's volumes), root over SSH with a key that a
 * cloud-init NoCloud seed gives the guest, the shell provisioner, poweroff.
 * The seed is a virtio disk, as Stratus attaches it: Packer 1.6's cd_files makes an IDE CD,
 * which the debian-12 image sees too late (its initramfs has virtio, SCSI and SATA drivers
 * only, so cloud-init's ds-identify finds no seed and cloud-init stays off: no key, and
 * Packer stops at "ssh: unable to authenticate"). A -drive in qemuargs replaces Packer's own
 * drive, so its drive is given again first, as Packer writes it (a -device for the seed
 * alone made SeaBIOS try to boot the seed).
 */
export function packerTemplate(r: Recipe, o: { out: string; seed: string; key: string; serial: string; accel: 'kvm' | 'tcg' }): string {
  const disk = join(o.out, 'disk.raw');
  return JSON.stringify({
    builders: [{
      type: 'qemu',
      iso_url: r.base,
      iso_checksum: 'none',
      disk_image: true,
      use_backing_file: false,
      skip_resize_disk: true,
      format: 'raw',
      output_directory: o.out,
      vm_name: 'disk.raw',
      accelerator: o.accel,
      cpus: r.vcpus,
      memory: r.memoryMiB,
      net_device: 'virtio-net',
      disk_interface: 'virtio',
      headless: true,
      qemuargs: [
        ['-cpu', o.accel === 'kvm' ? 'host' : 'max'],
        ['-serial', `file:${o.serial}`],
        ['-drive', `file=${disk},if=virtio,cache=writeback,discard=ignore,format=raw`],
        ['-drive', `file=${o.seed},if=virtio,format=raw,readonly=on`],
      ],
      communicator: 'ssh',
      ssh_username: 'root',
      ssh_private_key_file: o.key,
      ssh_timeout: '30m',
      shutdown_command: 'poweroff',
      shutdown_timeout: '15m',
    }],
    provisioners: [
      {
        type: 'shell',
        inline: [
          // as stratus-create-image does: cloud-init writes apt's proxy after sshd is up
          'if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1 || true; fi',
          'DEBIAN_FRONTEND=noninteractive apt-get update',
          'DEBIAN_FRONTEND=noninteractive apt-get -y install apache2',
        ],
      },
      { type: 'shell', script: r.setup },
    ],
  }, null, 2);
}

/**
 * The seed's files (untimed, like the template): meta-data with the key, user-data pointing
 * apt at the proxy with the cloud-config Stratus gives as vendor-data.
 */
export function packerSeedFiles(dir: string, publicKey: string, proxyUrl: string): { metaData: string; userData: string } {
  mkdirSync(dir, { recursive: true });
  const metaData = join(dir, 'meta-data');
  const userData = join(dir, 'user-data');
  writeFileSync(metaData, `instance-id: packer-bench\nlocal-hostname: packer\npublic-keys:\n  - ${JSON.stringify(publicKey.trim())}\n`);
  writeFileSync(userData, `#cloud-config\napt:\n  http_proxy: ${JSON.stringify(proxyUrl)}\n`);
  return { metaData, userData };
}

/** `xorriso` (the cidata seed) + `packer build` + `sha1sum` of Packer's output disk. */
export async function packerOnce(r: Recipe, dir: string, o: { key: string; publicKey: string; accel: 'kvm' | 'tcg'; run: number }, log: string): Promise<Timed> {
  const out = join(dir, `packer-out-${o.run}`);
  const seed = join(dir, 'packer-seed.iso');
  rmSync(out, { recursive: true, force: true });
  rmSync(seed, { force: true });
  const files = packerSeedFiles(join(dir, 'packer-seed'), o.publicKey, r.proxyUrl);
  const template = join(dir, `packer-${o.run}.json`);
  writeFileSync(template, packerTemplate(r, { out, seed, key: o.key, serial: join(dir, `packer-${o.run}-serial.log`), accel: o.accel }));
  const t0 = now();
  await runLogged('xorriso', ['-as', 'genisoimage', '-quiet', '-rock', '-joliet', '-volid', 'cidata', '-output', seed, files.userData, files.metaData], { log });
  const t1 = now();
  // PACKER_CACHE_DIR: not the working directory's packer_cache
  await runLogged('packer', ['build', '-color=false', template], { log, cwd: dir, env: { PACKER_CACHE_DIR: join(dir, 'packer_cache'), CHECKPOINT_DISABLE: '1' } });
  const t2 = now();
  const file = join(out, 'disk.raw');
  const sha1 = await sha1sum(file, log);
  const t3 = now();
  return { secs: t3 - t0, file, sha1, parts: { 'seed (xorriso)': t1 - t0, 'packer build': t2 - t1, sha1sum: t3 - t2 } };
}

/** The byte offset of the image's root file system: its last Linux partition (sfdisk). */
export function rootOffset(image: string): number {
  const table = JSON.parse(spawnSync('sfdisk', ['-J', image], { encoding: 'utf8' }).stdout) as { partitiontable: { sectorsize?: number; partitions: Array<{ start: number; type: string }> } };
  const linux = table.partitiontable.partitions.filter((p) => p.type === '83');
  const last = linux[linux.length - 1];
  if (!last) throw new Error(`${image}: no Linux partition`);
  return last.start * (table.partitiontable.sectorsize ?? 512);
}

/**
 * What a file in the image holds, read with debugfs (no mount, no appliance), or '' if there
 * is no such file: the check that a side really made the image the recipe asks for.
 */
export function readInImage(image: string, offset: number, path: string): string {
  const r = spawnSync('debugfs', ['-R', `cat ${path}`, `${image}?offset=${offset}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

/**
 * Whether the image holds apache2 and setup.sh's file: a message saying what is missing, or
 * undefined. A qcow2 (ours: the Epilog saves one) is read through a raw copy next to it.
 */
export function checkImage(image: string, expected: string, format: 'raw' | 'qcow2' = 'raw'): string | undefined {
  if (format === 'qcow2') {
    const raw = `${image}.check.raw`;
    try {
      const r = spawnSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image, raw], { encoding: 'utf8' });
      if (r.status !== 0) return `${image}: qemu-img convert failed: ${r.stderr.trim()}`;
      return checkImage(raw, expected);
    } finally {
      rmSync(raw, { force: true });
    }
  }
  const offset = rootOffset(image);
  const cloud = readInImage(image, offset, '/var/www/html/cloud.txt').trim();
  if (cloud !== expected) return `${image}: /var/www/html/cloud.txt holds ${JSON.stringify(cloud)}, not ${JSON.stringify(expected)}`;
  const status = readInImage(image, offset, '/var/lib/dpkg/status');
  if (!/^Package: apache2\nStatus: install ok installed$/m.test(status)) return `${image}: apache2 is not installed (dpkg status)`;
  return undefined;
}
