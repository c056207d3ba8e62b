import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { run } from '../platform/run.js';
import { inspectImage } from '../platform/disk-image.js';
import { tailLines } from '../platform/files.js';
import { waitForSshBanner } from '../platform/probe.js';
import { buildSeed } from '../context/nocloud.js';
import type { SeedInput } from '../context/nocloud.js';
import { buildContextCd, isOneContext } from '../context/one.js';
import type { OneContextInput } from '../context/one.js';
import { startOnFreeAddress } from './network.js';
import { QemuMachine } from './drivers/qemu/qemu-process.js';
import { macFor, VNC_BASE_PORT } from './drivers/qemu/qemu-args.js';
import { detectAccel } from './drivers/qemu/accel.js';
import { GuestAgent } from './drivers/qemu/guest-agent.js';
import { reidentify } from './reidentify.js';
import type { DataDiskSpec, VmSpec, VncSpec } from './drivers/qemu/qemu-args.js';

export interface LaunchRequest {
  /** Instance name: also the directory name and QEMU's -name. */
  name: string;
  instancesDir: string;
  /** The image, never written: the instance writes to a copy-on-write overlay (unless `ownDisk`). */
  base: { path: string; format: 'raw' | 'qcow2' };
  /**
   * `base` is already this instance's own copy (a pdisk snapshot made for it): it boots as is,
   * and the instance writes to it. The volume outlives the instance directory.
   */
  ownDisk?: boolean;
  vcpus: number;
  memoryMiB: number;
  swapMiB?: number;
  /**
   * The context the guest reads: a NoCloud seed (`SeedInput`, cloud-init's own format), or the
   * OpenNebula context CD of the `one` method (`{ method: 'one', variables, … }`).
   */
  seed: SeedInput | OneContextInput;
  /** Guest ports to forward (22 and the image's inbound ports). */
  inboundPorts: number[];
  diskBus?: VmSpec['diskBus'];
  nicModel?: VmSpec['nicModel'];
  /** Addresses other instances hold. */
  usedAddresses?: ReadonlySet<string>;
  /**
   * The instance's port on the server's bridge (HostNetwork.attach, with macFor(name)): the
   * guest takes `address` by DHCP and every guest port is reached there directly.
   */
  bridge?: { tap: string; address: string; gateway: string };
  /** Cap on TCG's translation cache (MiB), to keep idle guests small. */
  tcgCacheMiB?: number;
  /** A VNC server for the guest's screen (none when absent). */
  vnc?: VncRequest;
  /** Data disks after the boot disk, seed and swap (volumes, run-instance's read-only and volatile disks). */
  data?: DataDisk[];
  /** The guest agent's channel (a booted base, and the VMs restored from one). */
  agent?: boolean;
  /** QEMU's nice level: a booted base made in the background runs at 19, after everyone's VMs. */
  nice?: number;
  /**
   * Resume a booted base's saved state instead of booting (`base` is then a copy of that base's
   * disk, and the request must be shaped as the base's was): the guest then takes this
   * instance's clock, entropy, host keys, root's `sshKeys`, hostname and address (reidentify.ts).
   */
  restore?: { state: string; sshKeys: string[] };
}

/**
 * The VNC server: on `listen`, at the first free port of `ports` (a range of one for a port
 * asked for; every port at least VNC_BASE_PORT, as QEMU counts them from there). With
 * `password`, VNC authentication is required, with that password (at most 8 characters count).
 */
export interface VncRequest {
  listen: string;
  ports: { from: number; to: number };
  password?: string;
}

/**
 * A data disk given at start: an existing file (a volume, a cached image), or, with `sizeMiB`
 * and no `path`, a new empty raw disk made in the instance directory, which goes with it.
 */
export interface DataDisk {
  id: string;
  serial: string;
  format: 'raw' | 'qcow2';
  readonly?: boolean;
  path?: string;
  sizeMiB?: number;
}

/** A started instance. `ports` maps each guest port to the port on `address`. */
export interface LaunchedInstance {
  name: string;
  dir: string;
  address: string;
  ports: Map<number, number>;
  machine: QemuMachine;
  serialLog: string;
  overlay: string;
  /** Where the VNC server listens, as QEMU reports it. */
  vnc?: { address: string; port: number };
  /** The guest agent's socket, when it was asked for. */
  agentSocket?: string;
}

/**
 * The instance directory, which is all a restarted server needs to find a running VM:
 *
 *   <instances>/<name>/instance.json   the spec below (address, ports, QEMU paths)
 *                      root.qcow2      overlay on the image      swap.qcow2  swap disk
 *                      seed.iso        NoCloud cidata, or the    serial.log  console
 *                                      `one` context CD
 *                      qmp.sock        QMP                       qemu.pid / qemu.log
 *                      <id>.raw        an empty data disk asked for at start (--volatile-disk)
 */
export function instancePaths(instancesDir: string, name: string): { dir: string; qmpSocket: string; agentSocket: string; pidFile: string; serialLog: string; log: string } {
  const dir = join(instancesDir, name);
  return { dir, qmpSocket: join(dir, 'qmp.sock'), agentSocket: join(dir, 'agent.sock'), pidFile: join(dir, 'qemu.pid'), serialLog: join(dir, 'serial.log'), log: join(dir, 'qemu.log') };
}

/**
 * Starts an instance: overlay, seed, address, QEMU. Each step is undone in reverse if a later
 * one fails, so a failed launch leaves no directory, no disk and no QEMU process.
 */
export async function launchInstance(req: LaunchRequest): Promise<LaunchedInstance> {
  const paths = instancePaths(req.instancesDir, req.name);
  if (existsSync(paths.dir)) throw new StratusError('USAGE', `instance ${req.name} exists already (${paths.dir})`);
  if (!existsSync(req.base.path)) throw new StratusError('IMAGE_NOT_READABLE', `image ${req.base.path} does not exist`);
  for (const d of req.data ?? []) {
    if (d.path === undefined ? !(d.sizeMiB && d.sizeMiB > 0) : !existsSync(d.path)) {
      throw new StratusError('IMAGE_NOT_READABLE', `data disk ${d.id}: ${d.path === undefined ? 'neither a file nor a size' : `${d.path} does not exist`}`);
    }
  }
  // size and name checks before anything is created
  const seed = isOneContext(req.seed) ? buildContextCd(req.seed) : buildSeed(req.seed);
  const vnc = req.vnc ? vncSpec(req.vnc) : undefined;
  await inspectImage(req.base.path, req.base.format);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  let machine: QemuMachine | undefined;
  try {
    const overlay = req.ownDisk ? resolve(req.base.path) : join(paths.dir, 'root.qcow2');
    if (!req.ownDisk) await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', req.base.format, '-b', resolve(req.base.path), overlay]);
    const swap = req.swapMiB ? join(paths.dir, 'swap.qcow2') : undefined;
    if (swap) await run('qemu-img', ['create', '-q', '-f', 'qcow2', swap, `${req.swapMiB}M`]);
    writeFileSync(join(paths.dir, 'seed.iso'), seed);
    const data: DataDiskSpec[] = (req.data ?? []).map((d) => ({ id: d.id, serial: d.serial, format: d.format, readonly: d.readonly === true, path: d.path ?? emptyDisk(paths.dir, d) }));
    const guestPorts = [...new Set([22, ...req.inboundPorts])].filter((p) => p > 0 && p < 65536);
    const ports = new Map(guestPorts.map((p) => [p, req.bridge ? p : hostPortFor(p)]));
    const accel = await detectAccel();
    const uuid = randomUUID();
    const agentSocket = req.agent || req.restore ? paths.agentSocket : undefined;
    const specFor = (address: string): VmSpec => ({
      name: req.name, uuid, accel, vcpus: req.vcpus, memoryMiB: req.memoryMiB,
      root: { path: overlay, format: req.ownDisk ? req.base.format : 'qcow2' },
      seed: { path: join(paths.dir, 'seed.iso'), format: 'raw' },
      ...(swap ? { swap: { path: swap, format: 'qcow2' as const } } : {}),
      ...(data.length > 0 ? { data } : {}),
      ...(req.diskBus ? { diskBus: req.diskBus } : {}),
      ...(req.nicModel ? { nicModel: req.nicModel } : {}),
      network: req.bridge
        ? { address, tap: req.bridge.tap, forwards: [], mac: macFor(req.name) }
        : { address, forwards: [...ports].map(([guest, host]) => ({ guest, host })), mac: macFor(req.name) },
      ...(vnc ? { vnc } : {}),
      serialLog: paths.serialLog, qmpSocket: paths.qmpSocket, pidFile: paths.pidFile,
      ...(accel === 'tcg' && req.tcgCacheMiB ? { tcgCacheMiB: req.tcgCacheMiB } : {}),
      ...(agentSocket ? { agentSocket } : {}), ...(req.restore ? { incoming: req.restore.state } : {}), ...(req.nice ? { nice: req.nice } : {}),
    });
    const startAt = async (address: string): Promise<QemuMachine> => {
      const spec = specFor(address);
      writeFileSync(join(paths.dir, 'instance.json'), JSON.stringify({ spec, base: req.base, ports: [...ports] }, null, 2));
      return QemuMachine.start(spec, paths.log);
    };
    const started = req.bridge
      ? { address: req.bridge.address, machine: await startAt(req.bridge.address) }
      : await startOnFreeAddress(req.usedAddresses ?? new Set(), [...ports.values()], startAt);
    machine = started.machine;
    if (req.restore && agentSocket) await takeIdentity(machine, agentSocket, req, started.address);
    if (req.vnc?.password !== undefined) await machine.setVncPassword(req.vnc.password);
    const endpoint = req.vnc ? await machine.vncEndpoint() : undefined;
    return {
      name: req.name, dir: paths.dir, address: started.address, ports, machine, serialLog: paths.serialLog, overlay,
      ...(endpoint ? { vnc: endpoint } : {}), ...(agentSocket ? { agentSocket } : {}),
    };
  } catch (e) {
    await machine?.kill().catch(() => undefined);
    rmSync(paths.dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Waits until the guest's SSH server answers with its banner, or fails with the last lines
 * of the serial console when the machine stops or the time runs out.
 */
export async function waitForSsh(instance: LaunchedInstance, timeoutMs: number): Promise<number> {
  const started = Date.now();
  try {
    await waitForSshBanner(instance.address, instance.ports.get(22) as number, timeoutMs, () => instance.machine.exit === undefined);
  } catch (e) {
    const exit = instance.machine.exit;
    const why = exit?.reason === 'failed' ? `the guest failed (${exit.detail ?? 'dead QEMU state'})` : (e as Error).message;
    throw new StratusError('INSTANCE_FAILED', `instance ${instance.name} did not become reachable over SSH: ${why}; console: ${consoleTail(instance.serialLog)}`);
  }
  return Date.now() - started;
}

/** A restored guest runs on, then becomes this instance (its agent does the guest's part). */
async function takeIdentity(machine: QemuMachine, agentSocket: string, req: LaunchRequest, address: string): Promise<void> {
  await machine.waitForRunning(120_000);
  const agent = await GuestAgent.connect(agentSocket, 60_000, () => (machine.exit ? `QEMU exited (${machine.exit.reason})` : undefined));
  try {
    await reidentify(agent, {
      hostname: req.name, sshKeys: req.restore?.sshKeys ?? [], now: Math.floor(Date.now() / 1000),
      ...(req.bridge ? { network: { mac: macFor(req.name), address, gateway: req.bridge.gateway } } : {}),
    });
  } finally {
    agent.close();
  }
}

function vncSpec(v: VncRequest): VncSpec {
  const { from, to } = v.ports;
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < VNC_BASE_PORT || to < from || to > 65535) {
    throw new StratusError('USAGE', `VNC ports ${from}-${to}: QEMU takes ports ${VNC_BASE_PORT}-65535, lowest first`);
  }
  return { listen: v.listen, display: from - VNC_BASE_PORT, lastDisplay: to - VNC_BASE_PORT, password: v.password !== undefined };
}

/** A sparse raw file of `sizeMiB` in the instance directory (removed with it). */
function emptyDisk(dir: string, d: DataDisk): string {
  const path = join(dir, `${d.id}.raw`);
  closeSync(openSync(path, 'wx', 0o600));
  truncateSync(path, (d.sizeMiB as number) * 1024 * 1024);
  return path;
}

/** Guest port → host port: the same number when it can be bound, else 20000 + port. */
function hostPortFor(guest: number): number {
  const privileged = guest < 1024 && typeof process.getuid === 'function' && process.getuid() !== 0;
  return privileged ? 20000 + guest : guest;
}

function consoleTail(serialLog: string): string {
  const tail = tailLines(serialLog, 5);
  return tail === undefined ? '(no serial log)' : tail || '(nothing on the serial console)';
}
