/**
 * Starts `stratus serve` of this tree (dist/src/main/cli.js, not whatever `stratus` the PATH
 * holds) on a free port for a benchmark, and stops it; and the 1 GiB image the pdisk
 * benchmarks share (benchImage).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath } from '../test/helpers/paths.js';

export interface BenchServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `env` is added to this process's environment (e.g. STRATUS_ADMIN_PASSWORD). */
export async function startBenchServer(dataDir: string, extra: string[] = [], env: Record<string, string> = {}): Promise<BenchServer> {
  const child = spawn(process.execPath, [cliPath, 'serve', '--data-dir', dataDir, '--port', '0', ...extra], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
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
