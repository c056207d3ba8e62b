/**
 * Starts `stratus serve` of this tree (dist/src/main/cli.js, not whatever `stratus` the PATH
 * holds) on a free port for a benchmark, and stops it; the 1 GiB image the pdisk
 * benchmarks share (benchImage); images derived from a real one (derivedImage) and their
 * publication as a pdisk volume with a signed entry (publishGz); QEMU run by hand (startBareQemu).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { PdiskClient } from '../src/client/pdisk-client.js';
import { detectAccel } from '../src/compute/drivers/qemu/accel.js';
import { buildSeed } from '../src/context/nocloud.js';
import { identifierFromSha1 } from '../src/domain/identifier.js';
import { pdiskLocation } from '../src/domain/volume.js';
import type { EntryDraft } from '../src/metadata/entry/build.js';
import { run } from '../src/platform/run.js';
import { tap } from '../src/platform/streams.js';
import { cliPath } from '../test/helpers/paths.js';
import { draft, signedXml } from '../test/helpers/signing.js';
import type { TestSigner } from '../test/helpers/signing.js';

export interface BenchServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * `env` is added to this process's environment (e.g. STRATUS_ADMIN_PASSWORD). Without a
 * `--network` in `extra` the server runs no cloud service: as root it would otherwise make the
 * default bridge, stratus0, which another server on the host may own. `cli`: another build's
 * cli.js, to measure a branch not merged yet.
 */
export async function startBenchServer(dataDir: string, extra: string[] = [], env: Record<string, string> = {}, cli = cliPath): Promise<BenchServer> {
  const network = extra.includes('--network') ? [] : ['--network', 'none'];
  const child = spawn(process.execPath, [cli, 'serve', '--data-dir', dataDir, '--port', '0', ...network, ...extra], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Stratus serving (https?:\/\/\S+?)\/? /.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.on('exit', (c) => reject(new Error(`stratus serve exited ${c}: ${out}`)));
  });
  child.removeAllListeners('exit');
  return {
    url,
    child,
    stop: () => new Promise((r) => {
      child.once('exit', () => r());
      child.kill('SIGTERM');
    }),
  };
}

export interface BenchImage {
  /** The raw image. */
  raw: string;
  /** The same, gzip -6 (gzip's default level, and the one stratus-upload-image uses). */
  gz: string;
  bytes: number;
  sha1: string;
}

/**
 * A deterministic image shaped like a real one, made once and kept in
 * $TMPDIR/stratus-bench-pdisk: 1 MiB blocks, in each run of ten six of incompressible data
 * (AES-CTR keystream) then four of zeros, so 60 % data and 40 % zeros in 4 MiB holes.
 */
export function benchImage(mib = 1024): BenchImage {
  const dir = join(tmpdir(), 'stratus-bench-pdisk');
  mkdirSync(dir, { recursive: true });
  const raw = join(dir, `image-${mib}m-v1.img`);
  const gz = `${raw}.gz`;
  const sha1File = `${raw}.sha1`;
  if (!existsSync(raw) || !existsSync(sha1File)) {
    process.stderr.write(`making ${raw} (${mib} MiB)…\n`);
    const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update('stratus-bench-pdisk').digest(), Buffer.alloc(16));
    const zeros = Buffer.alloc(1024 * 1024);
    const hash = createHash('sha1');
    const fd = openSync(`${raw}.tmp`, 'w');
    for (let i = 0; i < mib; i++) {
      const block = i % 10 < 6 ? cipher.update(zeros) : zeros;
      hash.update(block);
      writeSync(fd, block);
    }
    closeSync(fd);
    renameSync(`${raw}.tmp`, raw);
    writeFileSync(sha1File, hash.digest('hex'));
  }
  if (!existsSync(gz)) {
    process.stderr.write(`compressing ${raw} (gzip -6)…\n`);
    const r = spawnSync('sh', ['-c', `gzip -6 -c '${raw}' > '${gz}.tmp' && mv '${gz}.tmp' '${gz}'`], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('gzip failed');
  }
  return { raw, gz, bytes: mib * 1024 * 1024, sha1: readFileSync(sha1File, 'utf8').trim() };
}

export interface GzImage {
  /** The image, gzipped (what is uploaded). */
  gz: string;
  /** Size and SHA-1 of the raw content. */
  bytes: number;
  sha1: string;
}

/**
 * A raw disk made of the first bytes of `prefix` (a real image: its boot sector and whatever
 * fits), then zeros up to `bytes`, with `marker` written at the start of the 1 MiB after the
 * prefix when given (a different image, booting the same). Only its gzip and SHA-1 are kept, in
 * $TMPDIR/stratus-bench-instances under `name`: the raw disk is never written, so a 10 GiB one
 * costs its compressed size.
 */
export async function derivedImage(name: string, prefix: string, bytes: number, opts: { marker?: string; level?: number } = {}): Promise<GzImage> {
  const dir = join(tmpdir(), 'stratus-bench-instances');
  mkdirSync(dir, { recursive: true });
  const gz = join(dir, `${name}.img.gz`);
  const sha1File = join(dir, `${name}.sha1`);
  if (!existsSync(gz) || !existsSync(sha1File)) {
    process.stderr.write(`making ${gz} (${(bytes / 2 ** 20).toFixed(0)} MiB raw)…\n`);
    const hash = createHash('sha1');
    async function* content(): AsyncGenerator<Buffer> {
      const block = 1024 * 1024;
      let left = bytes;
      for await (const chunk of createReadStream(prefix, { end: Math.min(bytes, statSync(prefix).size) - 1, highWaterMark: block }) as AsyncIterable<Buffer>) {
        left -= chunk.length;
        yield chunk;
      }
      if (opts.marker !== undefined && left > 0) {
        const mark = Buffer.alloc(Math.min(block, left));
        mark.write(opts.marker);
        left -= mark.length;
        yield mark;
      }
      const zeros = Buffer.alloc(block);
      for (; left > 0; left -= block) yield left >= block ? zeros : zeros.subarray(0, left);
    }
    await pipeline(content(), tap((c) => hash.update(c)), createGzip({ level: opts.level ?? 6, chunkSize: 1024 * 1024 }), createWriteStream(`${gz}.tmp`));
    renameSync(`${gz}.tmp`, gz);
    writeFileSync(sha1File, hash.digest('hex'));
  }
  return { gz, bytes, sha1: readFileSync(sha1File, 'utf8').trim() };
}

/**
 * Uploads a gzipped image to the server's pdisk as `admin` and publishes a signed Marketplace
 * entry whose location is that volume; returns the Marketplace ID and the volume.
 */
export async function publishGz(url: string, admin: { username: string; password: string }, signer: TestSigner, img: GzImage, entry: Partial<EntryDraft> = {}, visibility?: string): Promise<{ identifier: string; uuid: string }> {
  const client = new PdiskClient(url, admin);
  const size = statSync(img.gz).size;
  const volume = await client.upload(createReadStream(img.gz, { highWaterMark: 1024 * 1024 }), { gzipped: true, size, ...(visibility ? { visibility } : {}) });
  const identifier = identifierFromSha1(img.sha1);
  if (volume.identifier !== identifier) throw new Error(`upload of ${img.gz} gave identifier ${volume.identifier}, not ${identifier}`);
  const xml = signedXml(signer, draft({
    identifier, bytes: img.bytes, checksums: { 'SHA-1': img.sha1 }, compression: 'gz', locations: [pdiskLocation(url, volume.uuid)], ...entry,
  }));
  const posted = await fetch(`${url}/metadata`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: xml });
  if (posted.status !== 201) throw new Error(`metadata upload: ${posted.status} ${await posted.text()}`);
  return { identifier, uuid: volume.uuid };
}

export interface BareQemu {
  child: ChildProcess;
  /** What the guest printed on its serial console so far. */
  console(): string;
  /** Kills QEMU (if it still runs), waits for its exit, removes the overlay and the seed. */
  stop(): Promise<void>;
}

/**
 * QEMU as a user would run it by hand, the anchor of the instance benchmarks: a copy-on-write
 * overlay on `image` (qemu-img create), a NoCloud seed with the keys, and qemu-system-x86_64
 * with the serial console on stdout and the network `net` gives (-netdev … -device …).
 */
export async function startBareQemu(o: { dir: string; name: string; image: string; vcpus: number; memoryMiB: number; sshKeys: string[]; net: string[] }): Promise<BareQemu> {
  const overlay = join(o.dir, `${o.name}.qcow2`);
  const seed = join(o.dir, `${o.name}.iso`);
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', o.image, overlay]);
  writeFileSync(seed, buildSeed({ instanceId: o.name, hostname: 'bare', sshKeys: o.sshKeys }));
  const accel = await detectAccel();
  const child = spawn('qemu-system-x86_64', ['-accel', accel, '-cpu', accel === 'kvm' ? 'host' : 'max', '-m', String(o.memoryMiB), '-smp', String(o.vcpus), '-nographic',
    '-drive', `file=${overlay},if=virtio`, '-drive', `file=${seed},if=virtio,format=raw,readonly=on`, ...o.net, '-device', 'virtio-rng-pci'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  child.stdout?.on('data', (d: Buffer) => { text += d.toString('latin1'); });
  return {
    child,
    console: () => text,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise((resolve) => {
          child.once('exit', resolve);
          child.kill('SIGKILL');
        });
      }
      rmSync(overlay, { force: true });
      rmSync(seed, { force: true });
    },
  };
}
