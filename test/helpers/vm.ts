import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { launchInstance, waitForSsh } from '../../src/compute/launch.js';
import type { LaunchRequest, LaunchedInstance } from '../../src/compute/launch.js';
import { buildImage } from '../../src/images/builder.js';
import type { BuiltImage } from '../../src/images/builder.js';
import { loadRecipe } from '../../src/images/recipe.js';
import { processAlive } from '../../src/platform/run.js';
import { repoRoot } from './paths.js';

/**
 * At most two guests at once across all test files (test files run two at a time): on two
 * cores a third TCG guest makes every boot slow enough to flake. A slot is a lock file that
 * names its holder's pid; a dead holder's slot is taken over.
 */
const SLOTS = 2;
const slotDir = join(tmpdir(), 'stratus-vm-slots');

export async function acquireGuestSlot(): Promise<() => void> {
  return acquireGuestSlots(1);
}

/**
 * `n` slots at once, or none: a test that held one slot while it waited for a second
 * deadlocked with another test doing the same (each held one, forever). What it cannot have
 * whole it gives back, and tries again a little later.
 */
export async function acquireGuestSlots(n: number): Promise<() => void> {
  if (n < 1 || n > SLOTS) throw new Error(`a test may hold 1-${SLOTS} guest slots, not ${n}`);
  mkdirSync(slotDir, { recursive: true });
  for (;;) {
    const taken: string[] = [];
    for (let i = 0; i < SLOTS && taken.length < n; i++) {
      const file = join(slotDir, `slot-${i}`);
      if (takeSlot(file)) taken.push(file);
    }
    const release = (): void => taken.forEach((f) => rmSync(f, { force: true }));
    if (taken.length === n) return release;
    release();
    // Apart in time, two tests waiting for the same slots do not keep taking one each.
    await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 700)));
  }
}

/** Takes the slot file if it is free or its holder is dead. */
function takeSlot(file: string): boolean {
  try {
    const fd = openSync(file, 'wx');
    writeFileSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch {
    const holder = Number(readFileSafe(file));
    if (!holder || !processAlive(holder)) rmSync(file, { force: true });
    return false;
  }
}

function readFileSafe(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}

/** The image of a recipe, built into the cache if set-up has not done it yet. */
export async function recipeImage(name: string): Promise<BuiltImage> {
  return buildImage(loadRecipe(join(repoRoot, 'recipes'), name));
}

/** An OpenSSH key pair in `dir`, for logging into guests with the real ssh client. */
export function sshKey(dir: string, name = 'id_ed25519'): { path: string; publicKey: string } {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'stratus-test', '-f', path]);
  return { path, publicKey: readFileSync(`${path}.pub`, 'utf8').trim() };
}

/** Runs a command in the guest with OpenSSH's ssh client; returns stdout. */
export function ssh(instance: LaunchedInstance, key: string, command: string, timeoutMs = 120_000): string {
  return execFileSync('ssh', ['-i', key, '-p', String(instance.ports.get(22)), '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', '-o', 'LogLevel=ERROR', `root@${instance.address}`, command],
  { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Launches a guest inside a slot and waits for SSH; the guest is killed and the slot released
 * when the test file ends, whatever happened.
 */
export async function bootGuest(req: LaunchRequest, sshTimeoutMs: number): Promise<{ instance: LaunchedInstance; sshMs: number; release: () => Promise<void> }> {
  const releaseSlot = await acquireGuestSlot();
  let instance: LaunchedInstance | undefined;
  let released = false;
  const release = async (): Promise<void> => {
    released = true;
    if (instance) await instance.machine.kill().catch(() => undefined);
    releaseSlot();
  };
  after(release);
  const started = Date.now();
  try {
    instance = await launchInstance(req);
    // The test ended (say, a sibling boot failed) while QEMU was starting: stop it now.
    if (released) throw new Error(`test over before ${req.name} started`);
    await waitForSsh(instance, sshTimeoutMs);
  } catch (e) {
    await release();
    throw e;
  }
  return { instance, sshMs: Date.now() - started, release };
}

/**
 * QEMU processes started for instance `name` (there must be none once it is gone). Instances
 * run by an InstanceService are all named one-<id>, and every test store starts at 1: give
 * their `instancesDir` so that only this test's QEMU matches, never another test's.
 */
export function qemuProcessesFor(name: string, instancesDir?: string): number[] {
  const pattern = `^qemu-system-x86_64 .*-name ${name},process=${instancesDir ? `.*${instancesDir}/${name}/` : ''}`;
  try {
    return execFileSync('pgrep', ['-f', '--', pattern], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
