import { rmSync } from 'node:fs';
import { StratusError } from '../domain/errors.js';
import type { InstanceType } from '../domain/instance-types.js';
import type { InstanceRow, InstanceStore } from '../storage/instances.js';
import type { SeedInput } from '../context/nocloud.js';
import type { OneContextInput } from '../context/one.js';
import { aptProxyVendorData } from '../context/apt-proxy.js';
import { instancePaths, launchInstance } from './launch.js';
import { readTailBytes } from '../platform/files.js';
import { processUsage } from '../platform/proc.js';
import type { DataDisk, LaunchRequest, VncRequest } from './launch.js';
import { macFor } from './drivers/qemu/qemu-args.js';
import type { DataDiskSpec, VmSpec } from './drivers/qemu/qemu-args.js';
import { QemuMachine } from './drivers/qemu/qemu-process.js';
import type { MachineExit } from './drivers/qemu/qemu-process.js';

/** The host-only network, as the service uses it (network/host-network.ts implements it). */
export interface InstanceNetwork {
  /** The bridge's own address: the guests' gateway. */
  readonly hostAddress: string;
  attach(instance: string, owner: string, mac: string): Promise<{ ifname: string; address: string }>;
  detach(instance: string): Promise<void>;
}

export interface RunRequest {
  owner: string;
  ownerId: string;
  name?: string;
  /** What the user asked for (Marketplace ID, pdisk UUID, URL), as shown back to them. */
  imageRef: string;
  /** The disk to boot, already fetched and verified; never written (the instance gets an overlay). Or `prolog`. */
  image?: { path: string; format: 'raw' | 'qcow2' };
  /**
   * Makes the instance's disk during Prolog, once its vm ID exists (the cloud's image cache and
   * copy-on-write snapshot). Undone by `onRelease` when a later step fails.
   */
  prolog?: (row: InstanceRow) => Promise<PrologDisk>;
  /** What the instance was given, as JSON, recorded on the instance. */
  spec?: string;
  type: InstanceType;
  sshKeys: string[];
  userData?: string | Buffer;
  /** `one`: the OpenNebula context CD with `context`'s variables; otherwise the NoCloud seed. */
  contextMethod?: 'one' | 'cloud-init';
  context?: Record<string, string>;
  inboundPorts: number[];
  diskBus?: VmSpec['diskBus'];
  nicModel?: VmSpec['nicModel'];
  vnc?: VncRequest;
  /**
   * A booted base's saved state (cloud/booted-bases.ts): the VM resumes it instead of booting.
   * Prolog's disk is then a copy of that base's disk, and the request is shaped as its was.
   */
  restore?: { state: string };
}

/** The disk Prolog made or found: `ownDisk` boots it as is (a pdisk snapshot for this instance). */
export interface PrologDisk {
  image: { path: string; format: 'raw' | 'qcow2' };
  ownDisk: boolean;
  /** The pdisk volume, recorded on the instance. */
  disk: string;
  /** Data disks after the boot disk (run-instance's --persistent-disk, --readonly-disk, --volatile-disk). */
  data?: DataDisk[];
}

export interface InstanceServiceOptions {
  store: InstanceStore;
  instancesDir: string;
  /** The bridge when the server runs as root; user-mode networking otherwise. */
  network?: InstanceNetwork;
  /** How long a guest has to power off after the ACPI button before it is Failed. */
  shutdownTimeoutMs?: number;
  tcgCacheMiB?: number;
  /** The package proxy guests install through (debian-12 learns it from vendor-data or the context CD). */
  proxyUrl?: string;
  /** Called once an instance's host resources are gone (Epilog, kill, failure): the cloud quarantines its disk. */
  onRelease?: (row: InstanceRow) => Promise<void>;
  /**
   * Epilog's work before the instance's resources are released (the cloud saves a --save
   * instance's disk); what it returns becomes the instance's message. It runs again for an
   * instance a restarted server finds in Epilog. A failure makes the instance Failed with it.
   */
  onEpilog?: (row: InstanceRow) => Promise<string | undefined>;
}

/**
 * Instances through their life (reference §2.2), with the database as the record and the
 * instance directory as what a restarted server finds again:
 *
 *   run:       Pending → Prolog (disk, seed, address) → Boot (QEMU) → Running
 *   kill:      any live state → Done, at once; changes are lost
 *   shutdown:  Running → Shutdown (ACPI button) → Epilog → Done, or Failed after the timeout
 *   the guest powers itself off: Running → Unknown, its disk and address held until kill
 *
 * A failure at any step of run leaves the instance Failed with the reason and nothing behind
 * (no QEMU, overlay, seed or TAP): launchInstance undoes its own steps, and the port is undone here.
 */
export class InstanceService {
  private readonly machines = new Map<number, QemuMachine>();
  /** Where each machine's VNC server listens, as QEMU said when it started or was adopted. */
  private readonly vncs = new Map<number, { address: string; port: number }>();
  private readonly shuttingDown = new Set<number>();

  constructor(private readonly o: InstanceServiceOptions) {}

  async run(req: RunRequest): Promise<InstanceRow> {
    const row = await this.o.store.create({
      owner: req.owner, owner_id: req.ownerId, name: req.name ?? '', image: req.imageRef,
      cpu: req.type.cpu, ram_mib: req.type.ramMiB, swap_mib: req.type.swapMiB, spec: req.spec ?? null,
    });
    return this.start(row, req);
  }

  /** Runs an instance already recorded as Pending (the cloud records it first, so its disk can name the vm ID). */
  async start(row: InstanceRow, req: RunRequest): Promise<InstanceRow> {
    const name = vmName(row.id);
    let machine: QemuMachine | undefined;
    let prepared: PrologDisk | undefined;
    try {
      await this.step(row.id, 'Pending', 'Prolog');
      prepared = req.prolog ? await req.prolog(row) : undefined;
      const image = prepared?.image ?? req.image;
      if (!image) throw new StratusError('INTERNAL', `VM ${row.id}: no image and no prolog`);
      const bridge = this.o.network ? await this.o.network.attach(name, req.owner, macFor(name)) : undefined;
      const proxy = this.o.proxyUrl;
      const seed: SeedInput | OneContextInput = req.contextMethod === 'one'
        ? { method: 'one', variables: req.context ?? {}, publicKey: req.sshKeys.join('\n'), hostname: name, ...(proxy ? { aptProxy: proxy } : {}) }
        : {
          instanceId: `i-${name}`, hostname: name, sshKeys: req.sshKeys, ...(req.userData !== undefined ? { userData: req.userData } : {}),
          ...(proxy ? { vendorData: aptProxyVendorData(proxy) } : {}),
        };
      const launch: LaunchRequest = {
        name, instancesDir: this.o.instancesDir, base: image, ...(prepared?.ownDisk ? { ownDisk: true } : {}), vcpus: req.type.cpu, memoryMiB: req.type.ramMiB,
        ...(req.type.swapMiB ? { swapMiB: req.type.swapMiB } : {}), seed, inboundPorts: req.inboundPorts,
        ...(req.diskBus ? { diskBus: req.diskBus } : {}), ...(req.nicModel ? { nicModel: req.nicModel } : {}), ...(bridge && this.o.network ? { bridge: { tap: bridge.ifname, address: bridge.address, gateway: this.o.network.hostAddress } } : {}),
        ...(req.restore ? { restore: { state: req.restore.state, sshKeys: req.sshKeys } } : {}),
        ...(this.o.tcgCacheMiB ? { tcgCacheMiB: this.o.tcgCacheMiB } : {}),
        ...(prepared?.data?.length ? { data: prepared.data } : {}), ...(req.vnc ? { vnc: req.vnc } : {}),
        usedAddresses: new Set((await this.o.store.live()).map((r) => r.address).filter((a): a is string => !!a)),
      };
      await this.step(row.id, 'Prolog', 'Boot', { dir: instancePaths(this.o.instancesDir, name).dir, ...(prepared ? { disk: prepared.disk } : {}) });
      const launched = await launchInstance(launch);
      machine = launched.machine;
      // Killed while QEMU started: the step below fails, and the catch ends this machine.
      const running = await this.step(row.id, 'Boot', 'Running', { address: launched.address });
      this.watch(row.id, launched.machine);
      if (launched.vnc) this.vncs.set(row.id, launched.vnc);
      return running;
    } catch (e) {
      await machine?.kill().catch(() => undefined);
      await this.release(prepared ? { ...row, disk: prepared.disk } : row);
      const current = await this.o.store.get(row.id);
      if (current && current.state !== 'Done' && current.state !== 'Failed') {
        await this.o.store.transition(row.id, current.state, 'Failed', { message: (e as Error).message });
      }
      throw e;
    }
  }

  /** Ends the instance now (StratusLab's finalize): QEMU, overlay, seed and address go. */
  async kill(id: number): Promise<InstanceRow> {
    const row = await this.require(id);
    if (row.state === 'Done') return row;
    // Out of the map first: the exit this kill causes must not be read as the guest's own.
    const machine = this.machines.get(id);
    this.machines.delete(id);
    await machine?.kill();
    await this.release(row);
    // The state may move while QEMU stops (a shutdown finishing): Done wins from wherever it is.
    for (;;) {
      const current = await this.require(id);
      if (current.state === 'Done') return current;
      const done = await this.o.store.transition(id, current.state, 'Done');
      if (done) return done;
    }
  }

  /**
   * Presses the ACPI power button and waits for the guest to power off; Epilog then removes
   * what the instance held. A guest that ignores the button is Failed after the timeout, with
   * the reason, and ended (nothing may linger).
   */
  async shutdown(id: number): Promise<InstanceRow> {
    const row = await this.require(id);
    const machine = this.machines.get(id);
    if (row.state !== 'Running' || !machine) {
      throw new StratusError('USAGE', `VM ${id} is not in running state (it is ${row.state})`);
    }
    await this.step(id, 'Running', 'Shutdown');
    this.shuttingDown.add(id);
    const timeoutMs = this.o.shutdownTimeoutMs ?? 120_000;
    try {
      await machine.powerdown();
      await machine.waitForExit(timeoutMs);
    } catch {
      await machine.kill();
      await this.release(row);
      this.machines.delete(id);
      return this.step(id, 'Shutdown', 'Failed', { message: `the guest did not power off within ${Math.round(timeoutMs / 1000)} s of the ACPI power button; it was stopped` });
    } finally {
      this.shuttingDown.delete(id);
    }
    this.machines.delete(id);
    await this.step(id, 'Shutdown', 'Epilog');
    return this.epilog(row);
  }

  /** Epilog: its hook, then the release; Done with the hook's line, or Failed with its reason. */
  private async epilog(row: InstanceRow): Promise<InstanceRow> {
    let message: string | undefined;
    try {
      message = await this.o.onEpilog?.(row);
    } catch (e) {
      await this.release(row);
      return this.step(row.id, 'Epilog', 'Failed', { message: (e as Error).message });
    }
    await this.release(row);
    return this.step(row.id, 'Epilog', 'Done', message ? { message } : {});
  }

  /**
   * After a restart: every instance the database says is live is found again through its
   * instance directory. One whose QEMU is gone is Unknown if it was Running (the guest or the
   * host stopped it while no server watched), goes through Epilog if it was shutting down (a
   * --save instance's save resumes), and is Failed if it was still being made.
   */
  async adopt(): Promise<void> {
    for (const row of await this.o.store.live()) {
      const name = vmName(row.id);
      const paths = instancePaths(this.o.instancesDir, name);
      const machine = await QemuMachine.adopt({ name, qmpSocket: paths.qmpSocket, pidFile: paths.pidFile }, paths.log);
      if (machine) {
        // Nothing pauses a guest but a layer being frozen: a server that died meanwhile left it stopped.
        if ((await machine.status().catch(() => '')) === 'paused') await machine.resume().catch(() => undefined);
        this.watch(row.id, machine);
        const vnc = await machine.vncEndpoint().catch(() => undefined);
        if (vnc) this.vncs.set(row.id, vnc);
      } else if (row.state === 'Epilog' || row.state === 'Shutdown') {
        // The guest powered off after the button (its QEMU is gone): the Epilog runs, or resumes
        // (a --save instance's save goes on from its recorded step).
        // In the background: a resumed save may copy gigabytes, and the server serves meanwhile.
        if (row.state === 'Shutdown' && !(await this.o.store.transition(row.id, 'Shutdown', 'Epilog'))) continue;
        void this.epilog(row).catch(() => undefined);
      } else if (row.state === 'Running') {
        await this.o.store.transition(row.id, 'Running', 'Unknown', { message: 'QEMU had stopped when the server started again' });
      } else if (row.state !== 'Unknown') {
        await this.release(row);
        await this.o.store.transition(row.id, row.state, 'Failed', { message: `the server stopped while the instance was in ${row.state}` });
      }
    }
  }

  /**
   * The server stops: its VMs run on for the next server to adopt (their records and instance
   * directories stay), and nothing here keeps the process alive.
   */
  close(): void {
    for (const machine of this.machines.values()) machine.release();
    this.machines.clear();
    this.vncs.clear();
  }

  /** A guest that powers itself off (not through shutdown) leaves Unknown, holding its resources. */
  private watch(id: number, machine: QemuMachine): void {
    this.machines.set(id, machine);
    void machine.waitForExit(2 ** 31 - 1).then(async (exit: MachineExit) => {
      if (this.shuttingDown.has(id) || this.machines.get(id) !== machine) return;
      this.machines.delete(id);
      const row = await this.o.store.get(id);
      // Adopted while shutting down (the server that pressed the button died): Epilog follows.
      if (row?.state === 'Shutdown' && exit.reason !== 'failed' && exit.reason !== 'crash') {
        if (await this.o.store.transition(id, 'Shutdown', 'Epilog')) await this.epilog(row).catch(() => undefined);
        return;
      }
      if (row?.state !== 'Running') return;
      if (exit.reason === 'failed' || exit.reason === 'crash') {
        await this.release(row);
        await this.o.store.transition(id, 'Running', 'Failed', { message: exit.detail ?? `QEMU exited (${exit.reason})` });
      } else {
        await this.o.store.transition(id, 'Running', 'Unknown', { message: 'the guest powered itself off' });
      }
    }, () => undefined);
  }

  /** What an instance holds on the host: its directory (overlay, seed, sockets) and its port. */
  private async release(row: InstanceRow): Promise<void> {
    const name = vmName(row.id);
    this.vncs.delete(row.id);
    await this.o.network?.detach(name).catch(() => undefined);
    rmSync(instancePaths(this.o.instancesDir, name).dir, { recursive: true, force: true });
    await this.o.onRelease?.(row).catch(() => undefined);
  }

  /** Hot-plugs a data disk into a running instance (INSTANCE_STATE when QEMU does not run it). */
  async attachDisk(id: number, disk: DataDiskSpec): Promise<void> {
    await this.machine(id).attachDisk(disk.id, disk.path, disk.format, disk.readonly === true, disk.serial);
  }

  /** Runs `work` with the instance's guest stopped, then lets it go on (INSTANCE_STATE when QEMU does not run it). */
  async paused<T>(id: number, work: () => Promise<T>): Promise<T> {
    return this.machine(id).whilePaused(work);
  }

  /** Unplugs a data disk; an instance QEMU no longer runs has nothing plugged in. */
  async detachDisk(id: number, diskId: string, timeoutMs?: number): Promise<void> {
    await this.machines.get(id)?.detachDisk(diskId, timeoutMs);
  }

  /** The data disks QEMU has plugged into a running instance (none when it does not run). */
  async dataDisks(id: number): Promise<Array<{ id: string; serial: string }>> {
    return (await this.machines.get(id)?.dataDisks()) ?? [];
  }

  /** Where the running instance's VNC server listens (none once QEMU is gone). */
  vncOf(id: number): { address: string; port: number } | undefined {
    return this.machines.has(id) ? this.vncs.get(id) : undefined;
  }

  /** Whether this server runs the instance's QEMU now. */
  runs(id: number): boolean {
    return this.machines.has(id);
  }

  private machine(id: number): QemuMachine {
    const machine = this.machines.get(id);
    if (!machine) throw new StratusError('INSTANCE_STATE', `VM ${id} is not in running state`);
    return machine;
  }

  /**
   * What the host sees of a running instance: QEMU's resident memory (KiB) and its CPU use
   * since it started, in percent of one CPU (as OpenNebula's monitoring showed them).
   */
  usage(id: number): { memoryKiB: number; cpuPercent: number } | undefined {
    const machine = this.machines.get(id);
    return machine ? processUsage(machine.pid) : undefined;
  }

  /** The instance's serial console so far (at most the last `maxBytes`). */
  consoleLog(id: number, maxBytes = 256 * 1024): string {
    return readTailBytes(instancePaths(this.o.instancesDir, vmName(id)).serialLog, maxBytes);
  }

  private async step(id: number, from: InstanceRow['state'], to: InstanceRow['state'], changes: Parameters<InstanceStore['transition']>[3] = {}): Promise<InstanceRow> {
    const row = await this.o.store.transition(id, from, to, changes);
    if (!row) throw new StratusError('INSTANCE_FAILED', `VM ${id} was no longer ${from} (killed meanwhile?)`);
    return row;
  }

  private async require(id: number): Promise<InstanceRow> {
    const row = await this.o.store.get(id);
    if (!row) throw new StratusError('USAGE', `VM ${id} does not exist`);
    return row;
  }
}

/** QEMU and directory name of an instance: OpenNebula's `one-<id>`, which users recognise. */
export function vmName(id: number): string {
  return `one-${id}`;
}
