/**
 * The short smoke test `npm run check:fresh` runs after `npm run demo` in a clean Debian root:
 * the server starts, a fixture validates, and one ttylinux guest boots to a real SSH login,
 * on whatever accelerator really works there. Each step prints its time.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectAccel } from '../src/compute/drivers/qemu/accel.js';
import { launchInstance, waitForSsh } from '../src/compute/launch.js';
import type { LaunchedInstance } from '../src/compute/launch.js';
import { buildImage } from '../src/images/builder.js';
import { defaultRecipesDir, loadRecipe } from '../src/images/recipe.js';

const work = mkdtempSync(join(tmpdir(), 'stratus-smoke-'));
let server: ChildProcess | undefined;
let instance: LaunchedInstance | undefined;

async function step<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const t0 = Date.now();
  const r = await fn();
  process.stdout.write(` :: smoke: ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  return r;
}

function command(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, HOME: work } });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function main(): Promise<void> {
  const url = await step('stratus serve answers', () => new Promise<string>((resolve, reject) => {
    server = spawn('stratus', ['serve', '--data-dir', join(work, 'server'), '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`stratus serve did not start in 30 s: ${out}`)), 30_000);
    server.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Stratus serving (https?:\/\/\S+?)\/? /.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    server.on('exit', (code) => reject(new Error(`stratus serve exited with ${code}: ${out}`)));
  }));
  await step(`GET ${url}/metadata is 200`, async () => {
    const res = await fetch(`${url}/metadata`, { headers: { accept: 'application/json' } });
    if (res.status !== 200) throw new Error(`GET /metadata answered ${res.status}`);
  });
  const root = join(import.meta.dirname, '..', '..');
  await step('stratus-validate-metadata accepts valid-full-signature.xml', () => {
    command('stratus-validate-metadata', [join(root, 'fixtures', 'stratuslab-metadata', 'valid-full-signature.xml')]);
  });
  const accel = await step('accelerator probed', () => detectAccel());
  process.stdout.write(` :: smoke: guests run under ${accel.toUpperCase()}\n`);
  const image = await step('ttylinux image from the cache', () => buildImage(loadRecipe(defaultRecipesDir(import.meta.dirname), 'ttylinux')));
  command('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'key')]);
  await step('ttylinux boots and answers SSH', async () => {
    instance = await launchInstance({
      name: 'smoke', instancesDir: join(work, 'instances'), base: { path: image.path, format: 'raw' }, vcpus: 1, memoryMiB: 256,
      seed: { instanceId: 'i-smoke', hostname: 'smoke', sshKeys: [readFileSync(join(work, 'key.pub'), 'utf8').trim()] }, inboundPorts: [],
    });
    await waitForSsh(instance, 180_000);
  });
  await step('ssh root@instance uname -r (OpenSSH, key login)', () => {
    const live = instance as LaunchedInstance;
    const out = command('ssh', ['-i', join(work, 'key'), '-p', String(live.ports.get(22)), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30', '-o', 'LogLevel=ERROR', `root@${live.address}`, 'uname -r']);
    process.stdout.write(`    guest kernel ${out.trim()}\n`);
  });
}

main().then(() => {
  process.stdout.write(' :: smoke: passed\n');
}, (e: unknown) => {
  process.stderr.write(`  [ERROR] smoke test failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}).finally(async () => {
  await instance?.machine.kill().catch(() => undefined);
  server?.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});
