import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VolumeRow } from '../storage/volumes/store.js';
import type { InstanceNetwork } from '../compute/instances.js';
import { makeBootedBase } from '../compute/booted-base.js';
import type { BootedShape } from '../compute/booted-base.js';
import { detectAccel } from '../compute/drivers/qemu/accel.js';
import { QemuMachine } from '../compute/drivers/qemu/qemu-process.js';
import { instancePaths } from '../compute/launch.js';
import { run } from '../platform/run.js';
import { imageHasFile } from '../images/index.js';

/** Where qemu-guest-agent's program is in Debian and most distributions. */
const GUEST_AGENT = '/usr/sbin/qemu-ga';

export interface BootedBasesOptions {
  /** `<data-dir>/booted`: one directory per base, `<key>/{disk.qcow2,state,base.json}`. */
  dir: string;
  network?: InstanceNetwork;
  proxyUrl?: string;
  tcgCacheMiB?: number;
  /** A base older than this is remade (its package index ages); it is still used meanwhile. */
  maxAgeMs?: number;
  /** After a base could not be made, how long before it is tried again. */
  retryMs?: number;
  /** How many bases are kept (each is its VM's memory and a disk delta): the least recently used go first. */
  maxBases?: number;
  log?: (line: string) => void;
  /** What boots and saves a base (compute/booted-base.ts); the unit tests give their own. */
  make?: typeof makeBootedBase;
  /** Whether the image has the guest agent (read offline, before anything boots); the unit tests give their own. */
  hasAgent?: (image: { path: string; format: 'raw' | 'qcow2' }) => Promise<boolean>;
}

/** A booted base ready to resume: its disk delta (over the origin) and its saved state. */
export interface BootedBase {
  key: string;
  disk: string;
  state: string;
}

/** What decides whether a saved state fits: bump it when the guest-side work or the VM's devices change. */
const FORMAT = 'booted-base/1';
const DAY = 24 * 3600 * 1000;

/**
 * The server's booted bases: for an image and a VM shape, that image booted once (no user's key,
 * cloud-init done, the package index fetched) and saved running. A plain start of the same
 * image and shape resumes it in seconds; the VM then takes its own identity (reidentify.ts).
 *
 * A base is made in the background, one at a time, when a start asked for one that is not
 * there yet (that start boots as usual). It holds nothing of any user: every user of the image
 * may resume it. A base that could not be made (an image without qemu-guest-agent) is not
 * tried again for `retryMs`. Files are made in `<key>.part` and renamed in whole.
 */
export class BootedBases {
  private readonly queue: Array<{ key: string; origin: VolumeRow; image: { path: string; format: 'raw' | 'qcow2' }; shape: BootedShape }> = [];
  private working: Promise<void> | undefined;
  private readonly stop = new AbortController();

  constructor(private readonly o: BootedBasesOptions) {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  /**
   * Removes what an earlier server left half made (a server killed while it made a base leaves
   * its QEMU running and its port on the bridge: both go too); returns how many.
   */
  async reconcile(): Promise<number> {
    let n = 0;
    const vms = join(this.o.dir, '.vm');
    for (const name of existsSync(vms) ? readdirSync(vms) : []) {
      const paths = instancePaths(vms, name);
      const machine = await QemuMachine.adopt({ name, qmpSocket: paths.qmpSocket, pidFile: paths.pidFile }).catch(() => undefined);
      await machine?.kill().catch(() => undefined);
      await this.o.network?.detach(name).catch(() => undefined);
    }
    for (const name of readdirSync(this.o.dir)) {
      if (name.endsWith('.part') || name === '.vm') {
        rmSync(join(this.o.dir, name), { recursive: true, force: true });
        n++;
      }
    }
    return n;
  }

  /** The key of `origin`'s base of `shape` on this host (QEMU, accelerator, network, proxy). */
  async keyOf(origin: VolumeRow, shape: BootedShape): Promise<string> {
    const qemu = await qemuStamp();
    const parts = [FORMAT, origin.uuid, origin.identifier, origin.bytes, shape.vcpus, shape.memoryMiB, this.o.network ? 'bridge' : 'user', this.o.proxyUrl ?? '', await detectAccel(), qemu];
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
  }

  /** The base of `origin` and `shape`, if one is ready. */
  async find(origin: VolumeRow, shape: BootedShape): Promise<BootedBase | undefined> {
    return this.ready(await this.keyOf(origin, shape));
  }

  /**
   * Asks for `origin`'s base of `shape` to be made (or remade, when the one there is old): in
   * the background, after the ones asked for before. Nothing happens when it is there and new
   * enough, already asked for, or failed lately.
   */
  async want(origin: VolumeRow, image: { path: string; format: 'raw' | 'qcow2' }, shape: BootedShape): Promise<void> {
    this.ask(await this.keyOf(origin, shape), origin, image, shape);
  }

  /** A start's question, with the key worked out once: the base ready now, if any; and one asked for (want). */
  async take(origin: VolumeRow, image: { path: string; format: 'raw' | 'qcow2' }, shape: BootedShape): Promise<BootedBase | undefined> {
    const key = await this.keyOf(origin, shape);
    const base = this.ready(key);
    this.ask(key, origin, image, shape);
    return base;
  }

  private ready(key: string): BootedBase | undefined {
    const at = join(this.o.dir, key);
    const base = { key, disk: join(at, 'disk.qcow2'), state: join(at, 'state') };
    return existsSync(base.disk) && existsSync(base.state) ? base : undefined;
  }

  private ask(key: string, origin: VolumeRow, image: { path: string; format: 'raw' | 'qcow2' }, shape: BootedShape): void {
    if (this.stop.signal.aborted) return;
    const made = readJson(join(this.o.dir, key, 'base.json'));
    if (made && Date.now() - Date.parse(String(made.made)) < (this.o.maxAgeMs ?? DAY)) return;
    const failed = readJson(join(this.o.dir, `${key}.failed`));
    if (failed && Date.now() - Date.parse(String(failed.at)) < (this.o.retryMs ?? DAY)) return;
    if (this.queue.some((q) => q.key === key)) return;
    this.queue.push({ key, origin, image, shape });
    this.working ??= this.work().finally(() => { this.working = undefined; });
  }

  /** Says in the server's log that VM `vmId` resumed base `key` instead of booting. */
  resumed(key: string, vmId: number): void {
    this.o.log?.(`booted base ${key}: VM ${vmId} resumed it`);
    try {
      writeFileSync(join(this.o.dir, key, 'used'), new Date().toISOString());
    } catch {
      // dropped meanwhile: nothing to remember
    }
  }

  /** Drops a base that could not be resumed: the next start boots, and asks for a new one. */
  discard(key: string, why: string): void {
    if (!/^[0-9a-f]{24}$/.test(key)) return;
    rmSync(join(this.o.dir, key), { recursive: true, force: true });
    this.o.log?.(`booted base ${key} dropped: ${why}`);
  }

  /** The server stops: the base being made is abandoned (its VM killed, nothing kept). */
  async close(): Promise<void> {
    this.queue.length = 0;
    this.stop.abort();
    await this.working?.catch(() => undefined);
  }

  /** Keeps at most `maxBases` (4) bases, the one just made among them: the least recently used go. */
  private evict(made: string): void {
    const keys = readdirSync(this.o.dir).filter((n) => /^[0-9a-f]{24}$/.test(n) && n !== made);
    const byUse = keys.map((k) => ({ k, at: lastUse(join(this.o.dir, k)) })).sort((a, b) => b.at - a.at);
    for (const { k } of byUse.slice(Math.max(0, (this.o.maxBases ?? 4) - 1))) this.discard(k, `over ${this.o.maxBases ?? 4} bases, and the least recently used`);
  }

  /** Resolves when every base asked for so far is made or failed. */
  async idle(): Promise<void> {
    await this.working?.catch(() => undefined);
  }

  private async work(): Promise<void> {
    for (let next = this.queue[0]; next && !this.stop.signal.aborted; next = this.queue[0]) {
      await this.make(next.key, next.origin, next.image, next.shape).catch(() => undefined);
      this.queue.shift();
    }
  }

  private async make(key: string, origin: VolumeRow, image: { path: string; format: 'raw' | 'qcow2' }, shape: BootedShape): Promise<void> {
    const part = join(this.o.dir, `${key}.part`);
    rmSync(part, { recursive: true, force: true });
    mkdirSync(part, { mode: 0o700 });
    const started = Date.now();
    this.o.log?.(`booted base ${key}: booting image ${origin.identifier || origin.uuid} (${shape.vcpus} vCPU, ${shape.memoryMiB} MiB) to save it running`);
    try {
      // Its VMs take their identity through the guest agent: an image without one cannot have a base.
      if (!(await (this.o.hasAgent ?? hasGuestAgent)(image))) {
        throw new Error(`the image has no ${GUEST_AGENT} (qemu-guest-agent), which a booted base's VMs need`);
      }
      await (this.o.make ?? makeBootedBase)({
        name: `booted-${key.slice(0, 8)}`, image, shape, instancesDir: join(this.o.dir, '.vm'), disk: join(part, 'disk.qcow2'), state: join(part, 'state'),
        ...(this.o.network ? { network: this.o.network } : {}), ...(this.o.proxyUrl ? { proxyUrl: this.o.proxyUrl } : {}),
        ...(this.o.tcgCacheMiB ? { tcgCacheMiB: this.o.tcgCacheMiB } : {}), signal: this.stop.signal,
        ...(this.o.log ? { log: this.o.log } : {}),
      });
      writeFileSync(join(part, 'base.json'), `${JSON.stringify({ key, origin: origin.uuid, identifier: origin.identifier, shape, made: new Date().toISOString() }, null, 2)}\n`);
      rmSync(join(this.o.dir, key), { recursive: true, force: true });
      renameSync(part, join(this.o.dir, key));
      rmSync(join(this.o.dir, `${key}.failed`), { force: true });
      this.evict(key);
      this.o.log?.(`booted base ${key}: ready (${((Date.now() - started) / 1000).toFixed(1)} s, state ${Math.round(statSync(join(this.o.dir, key, 'state')).size / 1048576)} MiB)`);
    } catch (e) {
      rmSync(part, { recursive: true, force: true });
      if (!this.stop.signal.aborted) {
        writeFileSync(join(this.o.dir, `${key}.failed`), `${JSON.stringify({ at: new Date().toISOString(), reason: (e as Error).message })}\n`);
        this.o.log?.(`booted base ${key}: not made (${(e as Error).message}); starts of this image boot as usual`);
      }
      throw e;
    }
  }
}

async function hasGuestAgent(image: { path: string; format: 'raw' | 'qcow2' }): Promise<boolean> {
  return image.format === 'raw' && imageHasFile(image.path, GUEST_AGENT);
}

/** When a base was last of use: resumed, or else made. */
function lastUse(dir: string): number {
  for (const f of ['used', 'base.json']) {
    try {
      return statSync(join(dir, f)).mtimeMs;
    } catch {
      // try the next
    }
  }
  return 0;
}

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

let stamp: Promise<string> | undefined;

/** QEMU's version: a state saved by one QEMU may not load in another. */
function qemuStamp(): Promise<string> {
  stamp ??= run('qemu-system-x86_64', ['--version']).then((r) => r.stdout.split('\n')[0] ?? '', () => 'unknown');
  return stamp;
}
