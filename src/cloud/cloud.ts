import { totalmem } from 'node:os';
import { StratusError, isStratusError } from '../domain/errors.js';
import type { InstanceInfo, LayerInfo, LayerSaved, RunInstancesRequest, VolumeAttachment } from '../domain/instance-wire.js';
import type { Principal } from '../accounts/accounts.js';
import type { InstanceService, PrologDisk } from '../compute/instances.js';
import type { DataDisk } from '../compute/launch.js';
import { vmName } from '../compute/instances.js';
import type { InstanceRow, InstanceStore } from '../storage/instances.js';
import type { InstanceDisks } from '../volumes/instance-disks.js';
import type { VolumeRow } from '../storage/volumes/store.js';
import { DEFAULT_QUARANTINE_MS } from '../volumes/instance-disks.js';
import { USER_DATA_LIMIT } from '../context/nocloud.js';
import { oneContextVariables } from '../context/one.js';
import type { ImageCache } from './image-cache.js';
import type { UrlImages } from './url-image.js';
import { imageRefOf } from '../domain/image-ref.js';
import { parseSpec, serializeSpec } from './instance-spec.js';
import type { InstanceSpec } from './instance-spec.js';
import { Attachments, serialOf } from './attachments.js';
import { DEFAULT_VNC_SETTINGS, planVnc, vncPassword, vncRequest, vncView } from './vnc.js';
import { SaveEpilog } from './save-epilog.js';
import type { SaveEpilogOptions } from './save-epilog.js';
import type { VncSettings } from './vnc.js';
import { CloudLayers } from './layers.js';
import type { InstanceLayers } from '../volumes/layers.js';
import { requireLayerKey } from '../volumes/layers.js';
import type { BootedBases } from './booted-bases.js';

/** Per-account limits on what runs at once (`[instances]` in stratus.cfg); null: no limit. */
export interface InstanceLimits {
  instances: number | null;
  cpu: number | null;
  ramMiB: number | null;
}

export const DEFAULT_INSTANCE_LIMITS: InstanceLimits = { instances: 10, cpu: null, ramMiB: null };

export interface CloudOptions {
  instances: InstanceService;
  store: InstanceStore;
  cache: ImageCache;
  /** Plain URLs' images (each user's own origins); without it, a plain URL is refused. */
  urls?: UrlImages;
  disks: InstanceDisks;
  limits?: InstanceLimits;
  quarantineMs?: number;
  /** RAM one instance may have at most (default: this host's RAM). */
  hostRamMiB?: number;
  vnc?: VncSettings;
  /** --save (§2.4): where the saved images' drafts point and go; without it, --save is refused. */
  save?: Omit<SaveEpilogOptions, 'store' | 'disks' | 'detach'>;
  /** The instance layer cache (stratus-create-image's steps); without it, layers are refused. */
  layers?: InstanceLayers;
  /** Booted bases (`booted` starts resume one); without them, every VM boots. */
  booted?: BootedBases;
}

const MAX_COUNT = 20;
/** The largest --volatile-disk, in GiB: pdisk's largest volume. */
const MAX_VOLATILE_GIB = 1024;

/**
 * The cloud service behind /instances: who may run what, and each instance's disk in pdisk.
 * Every check comes before anything is made (a refused request leaves nothing behind); each
 * instance then goes through the InstanceService, whose Prolog makes its disk here and whose
 * release gives it back (quarantine for the snapshots it made, §11.4).
 */
export class CloudService {
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly attachments: Attachments;
  private readonly saving: SaveEpilog | undefined;
  private readonly cached: CloudLayers | undefined;

  constructor(private readonly o: CloudOptions) {
    this.attachments = new Attachments(o.instances, o.disks);
    this.cached = o.layers ? new CloudLayers({ instances: o.instances, store: o.store, layers: o.layers }) : undefined;
    this.saving = o.save ? new SaveEpilog({ ...o.save, store: o.store, disks: o.disks, detach: async (id) => this.attachments.released(id) }) : undefined;
  }

  /**
   * The InstanceService's Epilog hook, after the guest powered off and before its disk is
   * released: a --save instance's disk becomes a new image. Returns the line for its message.
   */
  async epilog(row: InstanceRow): Promise<string | undefined> {
    if (!parseSpec(row.spec).save) return undefined;
    if (!this.saving) throw new StratusError('INSTANCE_FAILED', `VM ${row.id} was to be saved, but this server saves no images`);
    return this.saving.run(row);
  }

  /** Starts the quarantine purge (every minute), after a first one now. */
  startPurge(): void {
    const purge = (): void => {
      void this.o.disks.purge(this.o.quarantineMs ?? DEFAULT_QUARANTINE_MS).catch(() => undefined);
      void this.cached?.collect().catch(() => undefined);
    };
    purge();
    this.purgeTimer = setInterval(purge, 60_000);
    this.purgeTimer.unref();
  }

  /** The server stops; running VMs are left running (the next server adopts them). */
  close(): void {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.o.instances.close();
  }

  async run(actor: Principal, req: RunInstancesRequest): Promise<InstanceInfo[]> {
    const count = req.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw new StratusError('USAGE', `the number of VMs must be 1-${MAX_COUNT}, not ${String(req.count)}`);
    const type = { cpu: req.cpu, ramMiB: req.ramMiB, swapMiB: req.swapMiB ?? 0 };
    for (const [what, v, min] of [['cpu', type.cpu, 1], ['ram', type.ramMiB, 16], ['swap', type.swapMiB, 0]] as const) {
      if (!Number.isInteger(v) || v < min) throw new StratusError('USAGE', `--${what} must be a whole number ≥ ${min}, not ${String(v)}`);
    }
    const hostRam = this.o.hostRamMiB ?? Math.floor(totalmem() / 1024 / 1024);
    if (type.ramMiB > hostRam) {
      throw new StratusError('INSTANCE_LIMIT', `an instance of ${type.ramMiB} MB RAM is more than this host has (${hostRam} MB)`, { hint: 'Pick a smaller type or --ram.' });
    }
    await this.checkLimits(actor, count, type.cpu, type.ramMiB);
    if (req.save?.marketplace !== undefined) await this.o.save?.checkTarget?.(req.save.marketplace);
    const vnc = await planVnc(req, this.o.vnc ?? DEFAULT_VNC_SETTINGS, count, new Set((await this.o.store.live()).map((r) => parseSpec(r.spec).vnc?.port ?? -1)));
    const userData = req.userData === undefined ? undefined : Buffer.from(req.userData, 'base64');
    if (userData && userData.length > 4 * USER_DATA_LIMIT) {
      throw new StratusError('CONTEXT_TOO_LARGE', `user-data is ${userData.length} bytes, over the limit of ${USER_DATA_LIMIT} bytes gzipped`);
    }
    // The context CD's variables are checked now (names, sizes), not in Prolog after a disk was made.
    if ((req.contextMethod ?? 'cloud-init') === 'one') oneContextVariables({ method: 'one', variables: req.context ?? {}, publicKey: (req.sshKeys ?? []).join('\n') });
    const ref = imageRefOf(req.image);
    const layerKey = req.layer === undefined ? undefined : requireLayerKey(req.layer);
    const volatileMiB = volatileSize(req.volatileDiskGiB);
    if (req.persistentDisk !== undefined) await this.attachments.checkStart(actor, req.persistentDisk, count);
    // The images are resolved (and fetched) once for all the VMs of the request.
    const source = ref.kind === 'marketplace' ? await this.o.cache.origin(ref.id, actor) : ref.kind === 'url' ? { volume: await this.urlOrigin(actor, ref.text, req.diskFormat) } : undefined;
    const readonlyDisk = req.readonlyDisk === undefined ? undefined : await this.readonlyDisk(actor, req.readonlyDisk);
    const entry = source && 'entry' in source ? source.entry : undefined;
    const inboundPorts = entry?.inboundPorts ?? [22, 80, 443];
    const diskBus = req.diskBus ?? busOf(entry?.disksBus);
    // Prolog makes the boot disk (a snapshot of an origin) unless the user's own volume boots as it is.
    const diskMade = ref.kind !== 'pdisk' || (await this.o.disks.bootable(actor, ref.text)).type === 'MACHINE_IMAGE_ORIGIN';
    if (req.save && !this.saving) throw new StratusError('USAGE', 'this cloud saves no images: run without --save');
    if (req.save && !diskMade) {
      throw new StratusError('VOLUME_STATE', `--save needs a disk the cloud makes for the instance, but ${req.image} is a MACHINE_IMAGE_LIVE volume that boots as it is`, {
        hint: 'Changes to that volume are kept anyway. To make a new image, run a Marketplace ID or an origin volume (MACHINE_IMAGE_ORIGIN) with --save.',
      });
    }
    const layer = layerKey === undefined ? undefined : await this.layerFor(actor, layerKey, diskMade, source?.volume ?? (await this.o.disks.bootable(actor, ref.text)));
    // A plain start may resume the image's booted base: one whose VM is the base's in all but identity.
    // Either context method: with no user-data and no variables of the user's, the guest would
    // read only its keys, hostname and address, which it takes when it resumes.
    const plain = req.booted === true && layer === undefined && source !== undefined && userData === undefined && Object.keys(req.context ?? {}).length === 0
      && req.persistentDisk === undefined && readonlyDisk === undefined && volatileMiB === undefined && type.swapMiB === 0
      && (diskBus ?? 'virtio') === 'virtio' && (req.networkModel ?? 'virtio') === 'virtio';
    const shape = { vcpus: type.cpu, memoryMiB: type.ramMiB };
    const booted = plain && this.o.booted && source ? await this.o.booted.take(source.volume, this.o.disks.locate(source.volume.uuid), shape) : undefined;
    const started: InstanceInfo[] = [];
    for (let i = 0; i < count; i++) {
      const password = vncPassword();
      const spec: InstanceSpec = {
        type: req.type ?? 'custom', contextMethod: req.contextMethod ?? 'cloud-init', context: req.context ?? {},
        ...(req.networkModel ? { networkModel: req.networkModel } : {}), diskMade,
        ...(req.persistentDisk !== undefined ? { persistentDisk: req.persistentDisk } : {}), ...(req.readonlyDisk !== undefined ? { readonlyDisk: req.readonlyDisk } : {}),
        ...(req.volatileDiskGiB !== undefined ? { volatileDiskGiB: req.volatileDiskGiB } : {}),
        vnc: { listen: vnc.listen, port: vnc.port, password }, ...(req.save ? { save: req.save, ...(entry ? { saveParent: entry } : {}) } : {}),
        ...(layer ? { layer } : {}), ...(booted ? { booted: booted.key } : {}),
      };
      // Checked again for each VM: the one before may have claimed a volume that boots as it is.
      if (ref.kind === 'pdisk') spec.diskMade = (await this.o.disks.bootable(actor, ref.text)).type === 'MACHINE_IMAGE_ORIGIN';
      const bootDisk = async (row: InstanceRow): Promise<PrologDisk> => {
        const volume = source?.volume ?? (await this.o.disks.bootable(actor, ref.text));
        // An origin (cached, fetched, or the user's) boots through a snapshot of its own; a live volume as it is.
        let uuid = volume.uuid;
        if (layer && this.cached) {
          const made = await this.cached.liveCopy(actor, layer.key, volume, ref.text);
          uuid = made.volume.uuid;
          // Replaced since the check: the spec names the layer this disk really started as.
          if (made.layer.id !== layer.id) await this.o.store.setSpec(row.id, serializeSpec({ ...spec, layer: made.layer }));
        } else if (source || volume.type === 'MACHINE_IMAGE_ORIGIN') uuid = (await this.o.disks.liveCopy(actor, volume, ref.text, booted?.disk)).uuid;
        else await this.o.disks.claim(volume.uuid, String(row.id), actor);
        return { image: this.o.disks.locate(uuid), ownDisk: true, disk: uuid };
      };
      // The boot disk first, so the guest still boots from it; the data disks follow.
      const prolog = async (row: InstanceRow): Promise<PrologDisk> => {
        const boot = await bootDisk(row);
        try {
          const data: DataDisk[] = [];
          if (req.persistentDisk !== undefined) data.push(await this.attachments.atStart(row, actor, req.persistentDisk));
          if (readonlyDisk) data.push(readonlyDisk);
          if (volatileMiB) data.push({ id: 'volatile', serial: 'volatile', format: 'raw', sizeMiB: volatileMiB });
          return data.length > 0 ? { ...boot, data } : boot;
        } catch (e) {
          // Prolog made the boot disk: it is undone here, as the run's clean-up does not know it yet.
          await this.released({ ...row, disk: boot.disk });
          throw e;
        }
      };
      const row = await this.o.instances.run({
        owner: actor.username, ownerId: actor.id, ...(req.name ? { name: count > 1 ? `${req.name}-${i + 1}` : req.name } : {}),
        imageRef: req.image, prolog, type, sshKeys: req.sshKeys ?? [], ...(userData ? { userData } : {}),
        contextMethod: spec.contextMethod, context: spec.context,
        inboundPorts, ...(diskBus ? { diskBus } : {}), ...(req.networkModel ? { nicModel: req.networkModel } : {}), spec: serializeSpec(spec),
        vnc: vncRequest(vnc, password), ...(booted ? { restore: { state: booted.state } } : {}),
      }).catch((e: unknown) => {
        // A base that does not resume is not tried again; the next start boots and asks for a new one.
        if (booted && isStratusError(e, 'INSTANCE_FAILED')) this.o.booted?.discard(booted.key, (e as Error).message);
        throw e;
      });
      if (booted) this.o.booted?.resumed(booted.key, row.id);
      started.push(this.view(row, actor));
    }
    return started;
  }

  /** The caller's listed instances (everyone's for the admin), Done ones left out. */
  async list(actor: Principal): Promise<InstanceInfo[]> {
    const rows = await this.o.store.list(actor.admin ? {} : { owner: actor.username });
    return rows.filter((r) => actor.admin || r.owner_id === '' || r.owner_id === actor.id).map((r) => this.view(r, actor));
  }

  async get(actor: Principal, id: number): Promise<InstanceInfo> {
    return this.view(await this.visible(actor, id), actor);
  }

  async kill(actor: Principal, id: number): Promise<InstanceInfo> {
    await this.visible(actor, id);
    return this.view(await this.o.instances.kill(id), actor);
  }

  async shutdown(actor: Principal, id: number): Promise<InstanceInfo> {
    const row = await this.visible(actor, id);
    if (row.state !== 'Running') throw new StratusError('INSTANCE_STATE', `VM ${id} is not in running state (it is ${row.state})`);
    return this.view(await this.o.instances.shutdown(id), actor);
  }

  async consoleLog(actor: Principal, id: number): Promise<string> {
    await this.visible(actor, id);
    return this.o.instances.consoleLog(id);
  }

  /** The context the instance was given: its method and KEY=value pairs. */
  async context(actor: Principal, id: number): Promise<{ method: string; context: Record<string, string> }> {
    const spec = parseSpec((await this.visible(actor, id)).spec);
    return { method: spec.contextMethod, context: spec.context };
  }

  /** stratus-attach-volume: hot-plugs a volume into the caller's running VM. */
  async attach(actor: Principal, id: number, uuid: string): Promise<VolumeAttachment> {
    return this.attachments.attach(await this.visible(actor, id), actor, uuid);
  }

  /** stratus-detach-volume: unplugs a volume from the caller's VM. */
  async detach(actor: Principal, id: number, uuid: string): Promise<VolumeAttachment> {
    return this.attachments.detach(await this.visible(actor, id), actor, uuid);
  }

  /** Freezes the caller's VM's root disk as the caller's cached layer of `key` (the guest has run sync). */
  async saveLayer(actor: Principal, id: number, key: string): Promise<LayerSaved> {
    const layers = this.layers();
    requireLayerKey(key);
    return layers.save(actor, await this.visible(actor, id), key);
  }

  /** The caller's cached layer of `key`: its size and when it was saved. */
  async layer(actor: Principal, key: string): Promise<LayerInfo> {
    return this.layers().info(actor, key);
  }

  async deleteLayer(actor: Principal, key: string): Promise<void> {
    await this.layers().remove(actor, key);
  }

  /** The volumes attached to the caller's VM. */
  async volumes(actor: Principal, id: number): Promise<VolumeAttachment[]> {
    return this.attachments.list(await this.visible(actor, id), actor);
  }

  /**
   * The InstanceService's release hook: nothing stays attached to the VM; the snapshot Prolog
   * made is quarantined (kept for its owner when a --save failed); a borrowed volume is given back.
   */
  async released(row: InstanceRow): Promise<void> {
    await this.attachments.released(row.id);
    if (!row.disk) return;
    // The spec as it is now: a failed save has recorded that the snapshot stays its owner's.
    const spec = parseSpec((await this.o.store.get(row.id))?.spec ?? row.spec);
    if (SaveEpilog.keepsDisk(spec)) return;
    if (spec.diskMade) await this.o.disks.quarantine(row.disk);
    else await this.o.disks.release(row.disk, String(row.id));
  }

  /** --readonly-disk: another Marketplace image, through the image cache, attached read-only (the origin is never written). */
  private async readonlyDisk(actor: Principal, text: string): Promise<DataDisk> {
    const ref = imageRefOf(text);
    if (ref.kind !== 'marketplace') {
      throw new StratusError('USAGE', `--readonly-disk takes a Marketplace ID (or the URL of an entry), not ${text}`, { hint: 'Attach a volume with --persistent-disk <uuid>.' });
    }
    const { volume } = await this.o.cache.origin(ref.id, actor);
    const at = this.o.disks.locate(this.o.disks.mayStart(actor, volume, ref.text).uuid);
    return { id: 'readonly', serial: serialOf(ref.id), path: at.path, format: at.format, readonly: true };
  }

  private layers(): CloudLayers {
    if (!this.cached) throw new StratusError('USAGE', 'this cloud keeps no instance layers', { hint: 'Run without a layer (stratus-create-image --no-cache).' });
    return this.cached;
  }

  /** The layer a run starts from: the caller's, made over the origin the run boots (an origin must be booted). */
  private async layerFor(actor: Principal, key: string, diskMade: boolean, origin: VolumeRow): Promise<{ key: string; id: string }> {
    const layers = this.layers();
    if (!diskMade) {
      throw new StratusError('LAYER_MISMATCH', `a layer starts a disk the cloud makes from a base image, but ${origin.uuid} is a ${origin.type} volume that boots as it is`, {
        hint: 'Run the Marketplace ID, URL or origin volume the layer was made from.',
      });
    }
    return layers.check(actor, key, origin);
  }

  private async urlOrigin(actor: Principal, url: string, format: 'raw' | 'qcow2' | undefined): Promise<VolumeRow> {
    if (!this.o.urls) throw new StratusError('URL_REFUSED', `cannot run image '${url}': this cloud runs no plain URLs`);
    return this.o.urls.origin(actor, url, format ?? 'raw');
  }

  /** Others' instances do not exist for the caller: the same answer as for a vm ID never used. */
  private async visible(actor: Principal, id: number): Promise<InstanceRow> {
    const row = Number.isSafeInteger(id) && id > 0 ? await this.o.store.get(id) : undefined;
    if (!row || !(actor.admin || (row.owner === actor.username && (row.owner_id === '' || row.owner_id === actor.id)))) {
      throw new StratusError('INSTANCE_NOT_FOUND', `VM ${id} does not exist`);
    }
    return row;
  }

  private async checkLimits(actor: Principal, count: number, cpu: number, ramMiB: number): Promise<void> {
    const limits = this.o.limits ?? DEFAULT_INSTANCE_LIMITS;
    const live = (await this.o.store.live()).filter((r) => r.owner === actor.username);
    const over = (what: string, used: number, asked: number, limit: number | null, unit = ''): void => {
      if (limit !== null && used + asked > limit) {
        throw new StratusError('INSTANCE_LIMIT', `${actor.username} may run at most ${limit}${unit} ${what}: ${used}${unit} in use, ${asked}${unit} asked for`);
      }
    };
    over('instances', live.length, count, limits.instances);
    over('vCPUs', live.reduce((n, r) => n + r.cpu, 0), count * cpu, limits.cpu);
    over('of RAM', live.reduce((n, r) => n + r.ram_mib, 0), count * ramMiB, limits.ramMiB, ' MB');
  }

  /** The password goes to the instance's owner only, never to the admin looking on. */
  private view(row: InstanceRow, actor: Principal): InstanceInfo {
    const usage = row.state === 'Running' ? this.o.instances.usage(row.id) : undefined;
    const owner = row.owner === actor.username && (row.owner_id === '' || row.owner_id === actor.id);
    return {
      id: row.id, name: row.name || vmName(row.id), owner: row.owner, state: row.state, message: row.message, image: row.image, disk: row.disk,
      type: parseSpec(row.spec).type, cpu: row.cpu, ramMiB: row.ram_mib, swapMiB: row.swap_mib, address: row.address,
      memoryKiB: usage?.memoryKiB ?? 0, cpuPercent: usage?.cpuPercent ?? 0,
      vnc: vncView(this.o.instances.vncOf(row.id), parseSpec(row.spec).vnc, owner), created: row.created, updated: row.updated,
    };
  }
}

/** --volatile-disk GB, in MiB (StratusLab multiplied it by 1024 into the template's MB). */
function volatileSize(gib: number | undefined): number | undefined {
  if (gib === undefined) return undefined;
  if (!Number.isInteger(gib) || gib < 1 || gib > MAX_VOLATILE_GIB) {
    throw new StratusError('USAGE', `--volatile-disk must be a whole number of GB, 1-${MAX_VOLATILE_GIB}, not ${String(gib)}`);
  }
  return gib * 1024;
}

function busOf(bus: string | undefined): 'ide' | 'scsi' | 'virtio' | undefined {
  return bus === 'ide' || bus === 'scsi' || bus === 'virtio' ? bus : undefined;
}
