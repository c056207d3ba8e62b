import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot } from '../../../platform/data-dir.js';
import { writeFileAtomic } from '../../../platform/files.js';
import { QmpClient } from './qmp-client.js';
import { DEAD_STATES, QEMU_BINARY, qemuComplaint } from './qemu-process.js';

export type Accel = 'kvm' | 'tcg';

/** What the probe found, kept for the life of the host boot. */
export interface AccelVerdict {
  accel: Accel;
  /** Why: "guest code ran under KVM", or what went wrong with KVM. */
  reason: string;
  bootId: string;
  probedAt: string;
}

/** What the probe sector prints on COM1 when every stage ran (accel-probe.S). */
export const PROBE_DONE = 'ABCDF\n';

/** The boot sector of accel-probe.S: mode switches and an IRET, as boot loaders do. */
export const PROBE_SECTOR = bootSector(
  'fa31c08ed88ed0bc007cbaf803b041ee0f0116a87c0f20c06683c8010f22c0ea247c080066b810008ed88ed08ec066ba' +
  'f803b042ee9c6a08683e7c0000cfb043eeea487c00001800b820008ed88ed00f20c06683e0fe0f22c0ea5e7c000031c0' +
  '8ed88ed0b044baf803eefbb40eb045cd10b046baf803eeb00aeef4ebfd8d74000000000000000000ffff0000009acf00' +
  'ffff00000092cf00ffff0000009a0000ffff0000009200002700807c',
);

/** A 512-byte MBR sector: the code, zeros, then the 0x55AA signature. */
export function bootSector(codeHex: string): Buffer {
  const sector = Buffer.alloc(512);
  Buffer.from(codeHex, 'hex').copy(sector);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

let memo: Promise<Accel> | undefined;

/**
 * KVM when it really runs guest code, TCG emulation otherwise. STRATUS_ACCEL=kvm|tcg overrides.
 * The verdict is kept in <cache>/accel/<boot_id>.json: the host's KVM does not change until
 * it reboots, and one probe (2 s when KVM works) per boot is enough. When KVM is not used the
 * reason is printed once, by the process that probed.
 */
export function detectAccel(say: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<Accel> {
  const forced = process.env.STRATUS_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return Promise.resolve(forced);
  memo ??= accelVerdict(say).then((v) => v.accel);
  return memo;
}

export async function accelVerdict(say: (line: string) => void): Promise<AccelVerdict> {
  const bootId = readBootId();
  const dir = join(cacheRoot(), 'accel');
  const file = join(dir, `${bootId}.json`);
  const known = readVerdict(file, bootId);
  if (known) return known;
  mkdirSync(dir, { recursive: true });
  // One prober per boot: others wait for its verdict instead of printing the reason again.
  const lock = `${file}.lock`;
  if (!takeLock(lock)) {
    for (let i = 0; i < 150; i++) {
      await sleep(200);
      const v = readVerdict(file, bootId);
      if (v) return v;
    }
    rmSync(lock, { force: true });
    takeLock(lock);
  }
  try {
    const probe = await probeKvm();
    const verdict: AccelVerdict = { accel: probe.ok ? 'kvm' : 'tcg', reason: probe.reason, bootId, probedAt: new Date().toISOString() };
    if (!probe.ok) say(` :: KVM not used: ${probe.reason}. Guests run under TCG emulation (slower); STRATUS_ACCEL=tcg skips this probe.`);
    writeFileAtomic(file, JSON.stringify(verdict, null, 2) + '\n');
    return verdict;
  } finally {
    rmSync(lock, { force: true });
  }
}

function takeLock(lock: string): boolean {
  try {
    closeSync(openSync(lock, 'wx'));
    return true;
  } catch {
    // A lock left by a prober that died long ago does not hold others up.
    try {
      if (Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { force: true });
    } catch {
      // gone meanwhile
    }
    return false;
  }
}

function readVerdict(file: string, bootId: string): AccelVerdict | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as AccelVerdict;
    return v.bootId === bootId && (v.accel === 'kvm' || v.accel === 'tcg') ? v : undefined;
  } catch {
    return undefined;
  }
}

function readBootId(): string {
  try {
    const id = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
  } catch {
    // not Linux, or /proc not mounted
  }
  return 'unknown-boot';
}

export interface ProbeOptions {
  accel?: Accel;
  /** The boot sector to run; it must print PROBE_DONE on COM1 when it got through. */
  sector?: Buffer;
  timeoutMs?: number;
  /** Extra QEMU arguments (a test adds a pvpanic device). */
  extraArgs?: string[];
}

/**
 * Boots PROBE_SECTOR under the accelerator and watches both the serial line and QEMU's run
 * state: ok only when the whole line arrived and the state never turned dead.
 */
export async function probeKvm(opts: ProbeOptions = {}): Promise<{ ok: boolean; reason: string }> {
  const accel = opts.accel ?? 'kvm';
  if (accel === 'kvm') {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      return { ok: false, reason: existsSync('/dev/kvm') ? '/dev/kvm is not readable and writable by this user' : 'this host has no /dev/kvm' };
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'stratus-accel-'));
  const disk = join(dir, 'probe.img');
  const serial = join(dir, 'serial.log');
  const qmpSocket = join(dir, 'qmp.sock');
  writeFileSync(disk, opts.sector ?? PROBE_SECTOR);
  const args = [
    '-accel', accel, '-cpu', accel === 'kvm' ? 'host' : 'max', '-machine', 'pc', '-m', '16', '-nodefaults', '-no-user-config',
    '-display', 'none', '-serial', `file:${serial}`, '-drive', `file=${disk},format=raw,if=ide,snapshot=on`,
    '-qmp', `unix:${qmpSocket},server=on,wait=off`, '-action', 'panic=pause', ...(opts.extraArgs ?? []),
  ];
  const child = spawn(QEMU_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  let exited = false;
  const exit = new Promise<void>((r) => child.once('close', () => { exited = true; r(); }));
  child.once('error', () => undefined);
  let qmp: QmpClient | undefined;
  try {
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    const couldNotStart = (): string => `QEMU could not start with -accel ${accel}: ${qemuComplaint(stderr) || 'no QMP socket'}`;
    try {
      qmp = await QmpClient.connectWhenListening(qmpSocket, deadline, () => (exited || Date.now() > deadline ? couldNotStart() : undefined));
    } catch {
      return { ok: false, reason: couldNotStart() };
    }
    return await judgeProbe(qmp, () => readText(serial), () => qemuComplaint(stderr), deadline);
  } catch (e) {
    return { ok: false, reason: `the probe guest could not be watched: ${(e as Error).message}` };
  } finally {
    qmp?.close();
    if (!exited) child.kill('SIGKILL');
    await exit;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The probe's verdict from a running QEMU: the serial output must reach PROBE_DONE while the
 * run state stays alive. Separate from probeKvm so a test can feed it a QMP peer that
 * reports a dead state.
 */
export async function judgeProbe(qmp: QmpClient, serial: () => string, qemuSays: () => string, deadline: number): Promise<{ ok: boolean; reason: string }> {
  for (;;) {
    const status = (await qmp.execute<{ status: string }>('query-status', undefined, 5000)).status;
    const out = serial();
    if (DEAD_STATES.has(status)) {
      const detail = qemuSays();
      return { ok: false, reason: `the guest stopped with QEMU status ${status} after printing '${printable(out)}'${detail ? ` (${detail})` : ''}` };
    }
    if (out.includes(PROBE_DONE)) return { ok: true, reason: 'guest code ran: mode switches, IRET and a BIOS call' };
    if (Date.now() > deadline) return { ok: false, reason: `the probe guest printed '${printable(out)}' of '${printable(PROBE_DONE)}' and then nothing (QEMU status ${status})` };
    await sleep(100);
  }
}

function printable(s: string): string {
  return s.replace(/\n/g, '\\n');
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
