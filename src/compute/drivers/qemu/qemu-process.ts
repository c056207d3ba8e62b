import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { StratusError } from '../../../domain/errors.js';
import { processAlive } from '../../../platform/run.js';
import { tailLines } from '../../../platform/files.js';
import { QmpClient } from './qmp-client.js';
import { blockdevOf, dataDevice, qemuArgs, SERIAL_BYTES, shellQuoted } from './qemu-args.js';
import type { DataDiskSpec, VmSpec } from './qemu-args.js';

/**
 * Why a machine stopped: the guest powered off, someone quit it, QEMU died, or the guest hit a
 * state it can never leave (then the driver ended it: see `failed`).
 */
export type ExitReason = 'guest-shutdown' | 'host-quit' | 'crash' | 'failed';

export interface MachineExit {
  reason: ExitReason;
  /** QEMU's exit code when it was our child and exited normally. */
  code?: number | null;
  signal?: NodeJS.Signals | null;
  /** For 'failed': QEMU's run state and what QEMU printed about it. */
  detail?: string;
}

export const QEMU_BINARY = 'qemu-system-x86_64';

/**
 * QEMU run states a guest never leaves by itself (qapi RunState): an accelerator that could not
 * run its code (internal-error, e.g. "KVM internal error ... emulation failure") or a guest
 * kernel that reported a panic through pvpanic (guest-panicked, with -action panic=pause).
 */
export const DEAD_STATES: ReadonlySet<string> = new Set(['internal-error', 'guest-panicked']);

/**
 * QEMU's complaint in one line: its first line, and the first later line that is a message
 * rather than data ("KVM internal error. Suberror: 1 … emulation failure"; register dumps and
 * "extra data" lines are left out).
 */
export function qemuComplaint(output: string): string {
  const lines = output.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines[0];
  if (first === undefined) return '';
  const more = lines.slice(1).find((l) => !l.startsWith('extra data') && !l.includes('='));
  return more ? `${first} … ${more}` : first;
}

/**
 * One running QEMU. It is started detached, so it outlives a server restart; its pid file
 * and QMP socket live in the instance directory, so a restarted server can adopt() it.
 * Exits are seen through the child handle when we spawned it, and otherwise through the QMP
 * socket closing plus a liveness poll.
 */
export class QemuMachine {
  private exitInfo: MachineExit | undefined;
  private readonly exitWaiters: Array<{ resolve: (e: MachineExit) => void; reject: (e: Error) => void }> = [];
  private poll: NodeJS.Timeout | undefined;

  private failure: string | undefined;
  /** The last whilePaused() call, which the next one waits for. */
  private pausing: Promise<unknown> = Promise.resolve();

  private constructor(readonly pid: number, readonly qmp: QmpClient, readonly spec: Pick<VmSpec, 'name' | 'qmpSocket' | 'pidFile'>, private readonly logFile?: string) {}

  /**
   * A guest that reaches a dead state is failed at once: QEMU would otherwise sit paused
   * forever and every readiness probe would wait out its timeout. The state is checked now
   * (an adopted machine may already be dead) and on every STOP or GUEST_PANICKED event.
   */
  private async watch(): Promise<void> {
    const check = (): void => {
      this.status().then((s) => this.failIfDead(s), () => undefined);
    };
    this.qmp.onEvent((e) => {
      if (e.event === 'STOP' || e.event === 'GUEST_PANICKED') check();
    });
    await this.status().then((s) => this.failIfDead(s), () => undefined);
  }

  private failIfDead(status: string): void {
    if (!DEAD_STATES.has(status) || this.failure || this.exitInfo) return;
    const said = this.logFile ? qemuComplaint(readTail(this.logFile)) : '';
    this.failure = `QEMU status ${status}${said ? `: ${said}` : ''}`;
    void this.kill().catch(() => undefined);
  }

  /**
   * Starts QEMU and returns once QMP answers. If anything fails after the process exists,
   * the process is killed before the error is thrown: no orphan QEMU.
   */
  static async start(spec: VmSpec, logFile: string, timeoutMs = 30_000): Promise<QemuMachine> {
    rmSync(spec.qmpSocket, { force: true });
    rmSync(spec.pidFile, { force: true });
    const log = openSync(logFile, 'a');
    let child;
    try {
      // nice execs QEMU in its own process: the pid, the pid file and the command line stay QEMU's.
      const [cmd, args] = spec.nice ? ['nice', ['-n', String(spec.nice), QEMU_BINARY, ...qemuArgs(spec)]] : [QEMU_BINARY, qemuArgs(spec)];
      child = spawn(cmd, args, { detached: true, stdio: ['ignore', log, log] });
      // Detached, QEMU leads a session of its own, which the scheduler's autogroups weigh as a
      // whole against every other session whatever its threads' nice: the group's nice counts.
      if (spec.nice && child.pid) setAutogroupNice(child.pid, spec.nice);
    } finally {
      closeSync(log);
    }
    let early: MachineExit | undefined;
    child.once('exit', (code, signal) => { early = { reason: 'crash', code, signal }; });
    child.once('error', () => undefined);
    try {
      const deadline = Date.now() + timeoutMs;
      const qmp = await QmpClient.connectWhenListening(spec.qmpSocket, deadline, () => {
        if (early) return `QEMU exited at start (code ${early.code ?? early.signal}): ${lastLines(logFile)}`;
        if (Date.now() > deadline) return `QEMU did not open its QMP socket within ${timeoutMs} ms: ${lastLines(logFile)}`;
        return undefined;
      });
      const machine = new QemuMachine(child.pid as number, qmp, spec, logFile);
      child.once('exit', (code, signal) => machine.exited({ reason: machine.reasonFromEvents(), code, signal }));
      child.unref();
      await machine.watch();
      return machine;
    } catch (e) {
      if (child.pid) killHard(child.pid);
      throw e;
    }
  }

  /** Reattaches to a QEMU started by an earlier server process, if it still runs. */
  static async adopt(spec: Pick<VmSpec, 'name' | 'qmpSocket' | 'pidFile'>, logFile?: string): Promise<QemuMachine | undefined> {
    const pid = readPid(spec.pidFile);
    if (pid === undefined || !isOurQemu(pid, spec.name)) return undefined;
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(spec.qmpSocket, 5000);
    } catch {
      // Alive but unreachable: nobody can manage it, so it must not linger.
      killHard(pid);
      return undefined;
    }
    const machine = new QemuMachine(pid, qmp, spec, logFile);
    machine.poll = setInterval(() => {
      if (!processAlive(pid)) machine.exited({ reason: machine.reasonFromEvents() });
    }, 500);
    machine.poll.unref();
    await machine.watch();
    return machine;
  }

  /** QEMU's run state: running, paused, shutdown, … */
  async status(): Promise<string> {
    return (await this.qmp.execute<{ status: string }>('query-status')).status;
  }

  /**
   * Runs `work` with the guest stopped (QMP `stop`: its vCPUs halt and QEMU drains and flushes
   * every disk, so the disk files hold all the guest wrote and stay still), then lets it go on
   * (`cont`), whether `work` succeeded or not. Calls on one machine wait for each other, so one
   * never lets the guest run while another still copies. A guest that is not running (dead,
   * or already paused) is refused with INSTANCE_STATE.
   */
  whilePaused<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.pausing.then(async () => {
      const status = await this.status();
      if (status !== 'running') throw new StratusError('INSTANCE_STATE', `the guest of ${this.spec.name} is ${status}, not running`);
      await this.qmp.execute('stop');
      let result: T;
      try {
        result = await work();
      } catch (e) {
        await this.resume().catch(() => undefined);
        throw e;
      }
      await this.resume();
      return result;
    });
    this.pausing = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Waits for a machine started from a saved state (`incoming`) to load it, then lets the guest
   * go on (`cont`: a state saved stopped loads stopped). A load that fails leaves QEMU waiting
   * for another, so anything but `inmigrate`, `paused` and `running` ends the wait with what
   * QEMU said.
   */
  async waitForRunning(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exitInfo) throw new StratusError('INSTANCE_FAILED', `QEMU ${this.spec.name} exited while loading its saved state: ${this.logFile ? qemuComplaint(readTail(this.logFile)) : this.exitInfo.reason}`);
      const status = await this.status();
      if (status === 'running') return;
      // The base was stopped to be saved, and QEMU keeps a loaded guest as its source was.
      if (status === 'paused') {
        await this.qmp.execute('cont');
        continue;
      }
      if (status !== 'inmigrate' || Date.now() > deadline) {
        const said = this.logFile ? qemuComplaint(readTail(this.logFile)) : '';
        throw new StratusError('INSTANCE_FAILED', `QEMU ${this.spec.name} did not resume its saved state (status ${status} after ${Math.round(timeoutMs / 1000)} s)${said ? `: ${said}` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Stops the guest and writes its whole state (memory and devices) to `path`, which another
   * QEMU with the same devices resumes with `incoming`. QEMU flushes and lets go of the disks
   * when the state is complete, so the disk files then match it; the machine stays stopped.
   */
  async saveState(path: string, timeoutMs: number): Promise<void> {
    await this.qmp.execute('stop');
    // The default cap (32 MiB/s) is for live migration over a network; this goes to a file.
    await this.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 8 * 1024 ** 3 });
    await this.qmp.execute('migrate', { uri: `exec:cat > ${shellQuoted(path)}` });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (m.status === 'completed') return;
      if (m.status === 'failed' || m.status === 'cancelled') throw new StratusError('TOOL_FAILED', `QEMU could not save the state of ${this.spec.name}: ${m['error-desc'] ?? m.status}`);
      if (Date.now() > deadline) throw new StratusError('TOOL_FAILED', `saving the state of ${this.spec.name} took over ${Math.round(timeoutMs / 1000)} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Lets a stopped guest run again (QMP `cont`); nothing to do once QEMU is gone. */
  async resume(): Promise<void> {
    if (this.exitInfo) return;
    await this.qmp.execute('cont');
  }

  /** Presses the ACPI power button; the guest decides to power off. */
  async powerdown(): Promise<void> {
    await this.qmp.execute('system_powerdown');
  }

  /**
   * Sets the VNC password (QEMU started with `password=on` lets no one in before this). The
   * password lives in QEMU's memory only, so it is never written beside the instance.
   */
  async setVncPassword(password: string): Promise<void> {
    await this.qmp.execute('set_password', { protocol: 'vnc', password });
  }

  /** Where QEMU's VNC server listens (the port it bound), or undefined when it has none. */
  async vncEndpoint(): Promise<{ address: string; port: number } | undefined> {
    const vnc = await this.qmp.execute<{ enabled: boolean; host?: string; service?: string }>('query-vnc');
    const port = Number(vnc.service);
    return vnc.enabled && vnc.host && Number.isInteger(port) && port > 0 ? { address: vnc.host, port } : undefined;
  }

  /** Ends the machine now: QMP quit, then signals if QEMU does not go. */
  async kill(timeoutMs = 10_000): Promise<MachineExit> {
    if (this.exitInfo) return this.exitInfo;
    try {
      await this.qmp.execute('quit', undefined, 3000);
    } catch {
      // QEMU may already be gone, or wedged: signals follow.
    }
    try {
      return await this.waitForExit(Math.min(timeoutMs, 5000));
    } catch {
      killHard(this.pid);
      return this.waitForExit(timeoutMs);
    }
  }

  /** Resolves when QEMU has exited (for any reason); rejects after `timeoutMs`, or when this handle is let go (release). */
  waitForExit(timeoutMs: number): Promise<MachineExit> {
    if (this.exitInfo) return Promise.resolve(this.exitInfo);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (e: MachineExit): void => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (e: Error): void => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.exitWaiters.splice(this.exitWaiters.indexOf(waiter), 1);
        reject(new StratusError('TOOL_FAILED', `QEMU ${this.spec.name} (pid ${this.pid}) still runs after ${timeoutMs} ms`));
      }, timeoutMs);
      this.exitWaiters.push(waiter);
    });
  }

  /**
   * Lets go of the machine without stopping it (the server stops; the VM runs on for the next
   * one to adopt): QMP closes and nothing of this handle keeps the process alive. Waiters for
   * its exit are rejected, so none reads this as the guest's end.
   */
  release(): void {
    if (this.exitInfo) return;
    if (this.poll) clearInterval(this.poll);
    this.qmp.close();
    const error = new StratusError('TOOL_FAILED', `QEMU ${this.spec.name} (pid ${this.pid}) is no longer watched by this server`);
    for (const w of this.exitWaiters.splice(0)) w.reject(error);
  }

  /**
   * Adds a disk to the running machine (virtio-blk hot-plug): its block node `id`, its device
   * `dev-<id>`. If the device cannot be added, the node goes again.
   */
  async attachDisk(id: string, path: string, format: 'qcow2' | 'raw', readonly = false, serial = id.slice(0, SERIAL_BYTES)): Promise<void> {
    const disk: DataDiskSpec = { id, path, format, readonly, serial };
    await this.qmp.execute('blockdev-add', blockdevOf(disk));
    try {
      await this.qmp.execute('device_add', dataDevice(disk));
    } catch (e) {
      await this.qmp.execute('blockdev-del', { 'node-name': id }).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Removes a data disk, hot-plugged or given at start. The guest must let go of the device
   * (ACPI eject; Linux does it by itself), which QEMU reports with DEVICE_DELETED; a guest that
   * does not within `timeoutMs` keeps it, and a later call asks again. What is already gone
   * (device or node) is skipped, so a call after a failed or interrupted one finishes the job.
   */
  async detachDisk(id: string, timeoutMs = 60_000): Promise<void> {
    const device = `dev-${id}`;
    if (await this.hasDevice(device)) {
      const gone = this.qmp.nextEvent('DEVICE_DELETED', timeoutMs, (e) => e.data?.device === device);
      // Observed either way below: a failed device_del must not leave this promise unwatched.
      const released = gone.then(() => true, () => false);
      try {
        await this.qmp.execute('device_del', { id: device });
      } catch (e) {
        // An unplug already under way is refused; the device still being there says which.
        if (!(await this.hasDevice(device))) throw e;
      }
      if (!(await released) && (await this.hasDevice(device))) {
        throw new StratusError('VOLUME_IN_USE', `the guest of ${this.spec.name} did not release disk ${id} within ${Math.round(timeoutMs / 1000)} s`, {
          hint: 'Unmount the disk inside the guest (umount) and detach it again.',
        });
      }
    }
    const nodes = await this.qmp.execute<Array<{ 'node-name': string }>>('query-named-block-nodes', { flat: true });
    if (nodes.some((n) => n['node-name'] === id)) await this.qmp.execute('blockdev-del', { 'node-name': id });
  }

  /** The machine's data disks now (ids without `dev-`) with their serials: what QEMU, not a record, says is plugged in. */
  async dataDisks(): Promise<Array<{ id: string; serial: string }>> {
    const children = await this.qmp.execute<Array<{ name: string; type: string }>>('qom-list', { path: '/machine/peripheral' });
    const disks: Array<{ id: string; serial: string }> = [];
    for (const c of children) {
      if (c.type !== 'child<virtio-blk-pci>' || !c.name.startsWith('dev-')) continue;
      const serial = await this.qmp.execute<string>('qom-get', { path: `/machine/peripheral/${c.name}`, property: 'serial' }).catch(() => '');
      disks.push({ id: c.name.slice('dev-'.length), serial: serial ?? '' });
    }
    return disks;
  }

  private async hasDevice(device: string): Promise<boolean> {
    const children = await this.qmp.execute<Array<{ name: string }>>('qom-list', { path: '/machine/peripheral' });
    return children.some((c) => c.name === device);
  }

  get exit(): MachineExit | undefined {
    return this.exitInfo;
  }

  private reasonFromEvents(): ExitReason {
    if (this.failure) return 'failed';
    const shutdown = this.qmp.received().find((e) => e.event === 'SHUTDOWN');
    if (!shutdown) return 'crash';
    const reason = String(shutdown.data?.reason ?? '');
    return reason.startsWith('guest') ? 'guest-shutdown' : 'host-quit';
  }

  private exited(e: MachineExit): void {
    if (this.exitInfo) return;
    this.exitInfo = this.failure ? { ...e, reason: 'failed', detail: this.failure } : e;
    if (this.poll) clearInterval(this.poll);
    this.qmp.close();
    for (const w of this.exitWaiters.splice(0)) w.resolve(this.exitInfo);
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The pid is a live QEMU running this instance (pids get reused; the name must match). */
function isOurQemu(pid: number, name: string): boolean {
  if (!processAlive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.some((a) => a.startsWith(`${name},process=`));
  } catch {
    return false;
  }
}

function setAutogroupNice(pid: number, nice: number): void {
  try {
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
  } catch {
    // No autogroups (CONFIG_SCHED_AUTOGROUP off): the threads' nice alone decides.
  }
}

function killHard(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function readTail(file: string): string {
  try {
    const text = readFileSync(file, 'utf8');
    // the log is appended to across starts: the last 4 KiB hold this failure, from a whole line
    return text.length > 4096 ? text.slice(text.indexOf('\n', text.length - 4096) + 1) : text;
  } catch {
    return '';
  }
}

function lastLines(file: string): string {
  return tailLines(file, 3) || '(no output)';
}
