import { copyFile, rm } from 'node:fs/promises';
import { StratusError } from '../domain/errors.js';
import { aptIndexFetch } from '../images/index.js';
import { aptProxyVendorData } from '../context/apt-proxy.js';
import { GuestAgent } from './drivers/qemu/guest-agent.js';
import { macFor } from './drivers/qemu/qemu-args.js';
import { instancePaths, launchInstance } from './launch.js';
import type { InstanceNetwork } from './instances.js';

/** The shape every VM restored from a booted base has: its devices are the base's. */
export interface BootedShape {
  vcpus: number;
  memoryMiB: number;
}

export interface BootRequest {
  /** Also the VM's name and hostname while it boots. */
  name: string;
  image: { path: string; format: 'raw' | 'qcow2' };
  shape: BootedShape;
  /** Where the booting VM's directory goes (removed when done). */
  instancesDir: string;
  /** The two files made: the disk (a qcow2 delta over `image`) and the saved state. */
  disk: string;
  state: string;
  network?: InstanceNetwork;
  proxyUrl?: string;
  tcgCacheMiB?: number;
  /** How long the guest has to boot and settle (cloud-init, the package index). */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** Set when the work is to stop (the server closes): the VM is killed and nothing is kept. */
  signal?: AbortSignal;
}

/**
 * What a booted base's guest does before it is saved: the end of its boot, then (where apt is)
 * the package index, through the proxy cloud-init configured, with the sources it was fetched
 * for: a build's `apt-get update` is then skipped while the archive has not changed
 * (images/apt-index.ts). Then everything is on disk.
 *
 * The end of the boot is cloud-init's result.json (written when its last stage ends) and
 * systemd's "boot finished": `cloud-init status --wait` alone answers "done" between two of
 * its stages. Regression: a base saved then resumed in cloud-init's middle; its config stage
 * then ran in the resumed VM, with the base's (empty) keys, over the VM's own.
 *
 * Then the network: the boot can end before DHCP gave the guest its address (a base is made
 * at nice 19, on a busy host), and apt then fails on the proxy's address ("Address family for
 * hostname not supported"). Regression: bases saved without an index, whose builds all paid a
 * full `apt-get update`.
 */
export const SETTLE = 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin; '
  + 'if command -v cloud-init >/dev/null; then until [ -e /run/cloud-init/result.json ]; do sleep 1; done; fi; '
  + 'if command -v systemctl >/dev/null; then systemctl is-system-running --wait >/dev/null 2>&1 || true; fi; '
  + 'i=0; until [ -n "$(ip -4 route show default 2>/dev/null)" ] || [ "$i" -ge 300 ]; do sleep 1; i=$((i + 1)); done; '
  + `if command -v apt-get >/dev/null; then ${aptIndexFetch()}; fi; sync`;

/**
 * Boots `image` once, as a VM with no user's key, lets it settle, and saves its running state
 * with its disk: a booted base, which VMs of the same shape then resume in seconds instead of
 * booting (launch.ts `restore`). The VM has the guest agent's channel (the image must run
 * qemu-guest-agent). Whatever happens, the VM, its port and its directory are gone at the end;
 * the two files exist only when everything worked.
 */
export async function makeBootedBase(req: BootRequest): Promise<void> {
  const timeoutMs = req.timeoutMs ?? 900_000;
  const deadline = Date.now() + timeoutMs;
  const log = req.log ?? (() => undefined);
  const aborted = (): string | undefined => (req.signal?.aborted ? 'the server is stopping' : undefined);
  const port = req.network ? await req.network.attach(req.name, 'stratus', macFor(req.name)) : undefined;
  let launched: Awaited<ReturnType<typeof launchInstance>> | undefined;
  try {
    launched = await launchInstance({
      name: req.name, instancesDir: req.instancesDir, base: req.image, vcpus: req.shape.vcpus, memoryMiB: req.shape.memoryMiB,
      seed: { instanceId: `i-${req.name}`, hostname: req.name, sshKeys: [], ...(req.proxyUrl ? { vendorData: aptProxyVendorData(req.proxyUrl) } : {}) },
      inboundPorts: [], agent: true, nice: 19,
      ...(port && req.network ? { bridge: { tap: port.ifname, address: port.address, gateway: req.network.hostAddress } } : {}),
      ...(req.tcgCacheMiB ? { tcgCacheMiB: req.tcgCacheMiB } : {}),
    });
    const machine = launched.machine;
    // Stopping mid-way (the agent may be running apt for minutes): the VM goes, and with it the wait.
    req.signal?.addEventListener('abort', () => void machine.kill().catch(() => undefined), { once: true });
    const gone = (): string | undefined => aborted() ?? (machine.exit ? `QEMU exited (${machine.exit.reason})` : undefined);
    const agent = await GuestAgent.connect(launched.agentSocket as string, Math.max(1000, deadline - Date.now()), gone);
    try {
      log(`booted base ${req.name}: the guest agent answered; settling (cloud-init, package index)`);
      const r = await agent.exec('/bin/sh', ['-c', SETTLE], { timeoutMs: Math.max(1000, deadline - Date.now()) });
      if (r.code !== 0) throw new StratusError('INSTANCE_FAILED', `the booted base's guest did not settle (exit status ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
      // A base whose index could not be fetched is still made: its builds then update as without one.
      if (/package index: not fetched\s*$/.test(r.stdout)) log(`booted base ${req.name}: apt's package index could not be fetched, builds resuming it will update it: ${(r.stdout + r.stderr).trim().split('\n').slice(-4, -1).join(' | ')}`);
    } finally {
      agent.close();
    }
    const why = aborted();
    if (why) throw new StratusError('INSTANCE_FAILED', `booted base ${req.name} not kept: ${why}`);
    await machine.saveState(req.state, 300_000);
    await machine.kill();
    await copyFile(launched.overlay, req.disk);
  } catch (e) {
    await rm(req.state, { force: true });
    await rm(req.disk, { force: true });
    throw e;
  } finally {
    await launched?.machine.kill().catch(() => undefined);
    await req.network?.detach(req.name).catch(() => undefined);
    await rm(instancePaths(req.instancesDir, req.name).dir, { recursive: true, force: true });
  }
}
