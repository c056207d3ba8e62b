import { rmSync } from 'node:fs';
import { StratusError } from '../domain/errors.js';
import type { InstanceType } from '../domain/instance-types.js';
import type { InstanceRow, InstanceStore } from '../storage/instances.js';
import type { SeedInput } from '../context/nocloud.js';
import { instancePaths, launchInstance } from './launch.js';
import type { LaunchRequest } from './launch.js';
import { macFor } from './drivers/qemu/qemu-args.js';
import type { VmSpec } from './drivers/qemu/qemu-args.js';
import { QemuMachine } from './drivers/qemu/qemu-process.js';
import type { MachineExit } from './drivers/qemu/qemu-process.js';

/** The host-only network, as the service uses it (network/host-network.ts implements it). */
export interface InstanceNetwork {
  attach(instance: string, owner: string, mac: string): Promise<{ ifname: string; address: string }>;
  detach(instance: string): Promise<void>;
}

export interface RunRequest {
  owner: string;
  ownerId: string;
  name?: string;
  /** What the user asked for (Marketplace ID, pdisk UUID, URL), as shown back to them. */
  imageRef: string;
  /** The disk to boot, already fetched and verified; never written (the instance gets an overlay). */
  image: { path: string; format: 'raw' | 'qcow2' };
  type: InstanceType;
  sshKeys: string[];
  userData?: string | Buffer;
  inboundPorts: number[];
  diskBus?: VmSpec['diskBus'];
}

export interface InstanceServiceOptions {
  store: InstanceStore;
  instancesDir: string;
  /** The bridge when the server runs as root; user-mode networking otherwise. */
  network?: InstanceNetwork;
  /** How long a guest has to power off after the ACPI button before it is Failed. */
  shutdownTimeoutMs?: number;
  tcgCacheMiB?: number;
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
  private readonly shuttingDown = new Set<number>();

  constructor(private readonly o: InstanceServiceOptions) {}

  async run(req: RunRequest): Promise<InstanceRow> {
    const row = await this.o.store.create({
      owner: req.owner, owner_id: req.ownerId, name: req.name ?? '', image: req.imageRef,
      cpu: req.type.cpu, ram_mib: req.type.ramMiB, swap_mib: req.type.swapMiB,
    });
    const name = vmName(row.id);
    let machine: QemuMachine | undefined;
    try {
      await this.step(row.id, 'Pending', 'Prolog');
      const bridge = this.o.network ? await this.o.network.attach(name, req.owner, macFor(name)) : undefined;
      const seed: SeedInput = { instanceId: `i-${name}`, hostname: name, sshKeys: req.sshKeys, ...(req.userData !== undefined ? { userData: req.userData } : {}) };
      const launch: LaunchRequest = {
        name, instancesDir: this.o.instancesDir, base: req.image, vcpus: req.type.cpu, memoryMiB: req.type.ramMiB,
        ...(req.type.swapMiB ? { swapMiB: req.type.swapMiB } : {}), seed, inboundPorts: req.inboundPorts,
        ...(req.diskBus ? { diskBus: req.diskBus } : {}), ...(bridge ? { bridge: { tap: bridge.ifname, address: bridge.address } } : {}),
        ...(this.o.tcgCacheMiB ? { tcgCacheMiB: this.o.tcgCacheMiB } : {}),
        usedAddresses: new Set((await this.o.store.live()).map((r) => r.address).filter((a): a is string => !!a)),
      };
      await this.step(row.id, 'Prolog', 'Boot', { dir: instancePaths(this.o.instancesDir, name).dir });
      const launched = await launchInstance(launch);
      machine = launched.machine;
      // Killed while QEMU started: the step below fails, and the catch ends this machine.
      const running = await this.step(row.id, 'Boot', 'Running', { address: launched.address });
      this.watch(row.id, launched.machine);
      return running;
    } catch (e) {
      await machine?.kill().catch(() => undefined);
      await this.release(row);
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
    await this.release(row);
    return this.step(id, 'Epilog', 'Done');
  }

  /**
   * After a restart: every instance the database says is live is found again through its
   * instance directory. One whose QEMU is gone is Unknown if it was Running (the guest or the
   * host stopped it while no server watched), Failed if it was still being made.
   */
  async adopt(): Promise<void> {
    for (const row of await this.o.store.live()) {
      const name = vmName(row.id);
      const paths = instancePaths(this.o.instancesDir, name);
      const machine = await QemuMachine.adopt({ name, qmpSocket: paths.qmpSocket, pidFile: paths.pidFile }, paths.log);
      if (machine) {
        this.watch(row.id, machine);
      } else if (row.state === 'Running') {
        await this.o.store.transition(row.id, 'Running', 'Unknown', { message: 'QEMU had stopped when the server started again' });
      } else if (row.state !== 'Unknown') {
        await this.release(row);
        await this.o.store.transition(row.id, row.state, 'Failed', { message: `the server stopped while the instance was in ${row.state}` });
      }
    }
  }

  /** A guest that powers itself off (not through shutdown) leaves Unknown, holding its resources. */
  private watch(id: number, machine: QemuMachine): void {
    this.machines.set(id, machine);
    void machine.waitForExit(2 ** 31 - 1).then(async (exit: MachineExit) => {
      if (this.shuttingDown.has(id) || this.machines.get(id) !== machine) return;
      this.machines.delete(id);
      const row = await this.o.store.get(id);
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
    await this.o.network?.detach(name).catch(() => undefined);
    rmSync(instancePaths(this.o.instancesDir, name).dir, { recursive: true, force: true });
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
