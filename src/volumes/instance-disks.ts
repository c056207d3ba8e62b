import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { StratusError } from '../domain/errors.js';
import { formatUtc } from '../domain/dates.js';
import { bytesToGib, gibToBytes, requireUuid } from '../domain/volume.js';
import { inspectImage } from '../platform/disk-image.js';
import type { Principal } from '../accounts/accounts.js';
import type { VolumeDriver, VolumeFormat, VolumeLocation } from '../storage/volumes/driver.js';
import { DEFAULT_MAX_VOLUME_GIB } from './service.js';
import type { AccountRef, MountRow, Quota, VolumeRow, VolumeStore } from '../storage/volumes/store.js';
import { identifierFromSha1 } from '../domain/identifier.js';
import type { DigestResult } from '../platform/hashing.js';
import { copyQcow2Hashed, copyRawHashed, savingFile } from './copy.js';

/** quarantine_period's default (§11.4): 15 minutes. */
export const DEFAULT_QUARANTINE_MS = 15 * 60_000;

/** The node recorded on the mounts of this server's instances (boot claims and attachments). */
const INSTANCE_NODE = 'localhost';

/** Devices for the volumes attached to one VM, highest first (StratusLab's pdisk: vdz, vdy, …). */
const VM_TARGETS: readonly string[] = Array.from({ length: 20 }, (_, i) => `vd${String.fromCharCode('z'.charCodeAt(0) - i)}`);

/** Volume types a running instance may have attached: data disks, not machine images (booted ones, cached ones). */
const ATTACHABLE: ReadonlySet<string> = new Set(['DATA_IMAGE_RAW_READ_WRITE', 'DATA_IMAGE_RAW_READONLY', 'DATA_IMAGE_LIVE', 'DATA_IMAGE_ORIGIN']);
/**
 * Types their owner attaches read-write. A DATA_IMAGE_RAW_READONLY volume is read-only by its
 * name, and a DATA_IMAGE_ORIGIN one is what copy-on-write data snapshots read through.
 */
const WRITABLE: ReadonlySet<string> = new Set(['DATA_IMAGE_RAW_READ_WRITE', 'DATA_IMAGE_LIVE']);
/** VMs that may read one volume at once, per side (its owner's, everyone else's), as pdisk counts mounts. */
const MAX_READERS = 10;

/** A volume recorded as attached to a VM, and how. */
export interface Attached {
  mount: MountRow;
  readOnly: boolean;
}

/**
 * The disks instances run on, kept in pdisk as StratusLab v2 kept them (§11.3, §11.4):
 *
 * - a Marketplace image is downloaded once into an origin volume (MACHINE_IMAGE_ORIGIN,
 *   identifier = the Marketplace ID) held by the pdisk user (the admin), shared by all users;
 * - each instance boots a copy-on-write snapshot of it (MACHINE_IMAGE_LIVE, identifier
 *   `snapshot:<origin>`) owned by the instance's user, so the origin is never written;
 * - when the instance ends, the snapshot is quarantined: handed to the pdisk user with the
 *   time, invisible to its user, recoverable by the admin until the period ends; purge()
 *   then deletes it.
 *
 * The HTTP routes never reach these methods: only the cloud service does, after it has checked
 * who asks.
 */
export class InstanceDisks {
  constructor(
    private readonly store: VolumeStore,
    private readonly driver: VolumeDriver,
    private readonly quotas: { quotaOf(username: string): Promise<Quota> },
    /** The account that holds cached origins and quarantined disks (StratusLab's `pdisk`). */
    readonly pdiskUser: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Where downloads go before addOrigin moves them in. */
  get scratchDir(): string {
    return this.driver.scratchDir;
  }

  /**
   * The cached origin of `identifier`, if any (the cache lookup): an origin volume, or else the
   * image as the pdisk user uploaded it herself (read-only, raw), which the cache could not
   * store again (a second volume of the same content is refused to one owner).
   */
  async origin(identifier: string): Promise<VolumeRow | undefined> {
    const origin = await this.store.findOrigin(identifier);
    if (origin) return origin;
    const own = await this.store.findByIdentifier(this.pdiskUser, identifier);
    return own && own.type === 'DATA_IMAGE_RAW_READONLY' && own.format === 'raw' && !own.quarantine ? own : undefined;
  }

  /**
   * Makes a download an origin volume: the cached origin of a Marketplace image (held by the
   * pdisk user, shared by all), or, with `owner`, a plain URL's image (theirs, PRIVATE, in
   * their quota). It keeps its format; a qcow2 must stand alone (no backing or data file,
   * which would make QEMU read a file of this host) and declare no more than a volume holds.
   */
  async addOrigin(file: string, o: { identifier: string; format: VolumeFormat; owner?: Principal; tag?: string; bootable?: boolean }): Promise<VolumeRow> {
    // Standalone and bounded, so the virtual size is always read.
    const bytes = (await inspectImage(file, o.format, { standalone: true, bootable: o.bootable ?? false, maxVirtualBytes: gibToBytes(DEFAULT_MAX_VOLUME_GIB) })) ?? 0;
    const uuid = randomUUID();
    await this.driver.importImage(uuid, file, o.format);
    const row: VolumeRow = {
      uuid, owner: o.owner?.username ?? this.pdiskUser, tag: (o.tag ?? '').slice(0, 40), visibility: 'PRIVATE', type: 'MACHINE_IMAGE_ORIGIN', identifier: o.identifier,
      size_gib: bytesToGib(bytes), bytes, format: o.format, origin: null, quarantine: '', created: this.clock().toISOString(), deleted: null,
    };
    try {
      if (o.owner) await this.store.insertWithinQuota(row, await this.quotas.quotaOf(o.owner.username), { username: o.owner.username, id: o.owner.id });
      else await this.store.insertWithinQuota(row, { gib: null, volumes: null });
    } catch (e) {
      await this.driver.delete(uuid);
      throw e;
    }
    return row;
  }

  /** `owner`'s origin of this identifier (a plain URL's image fetched before, the same bytes), if any. */
  async ownOrigin(owner: Principal, identifier: string): Promise<VolumeRow | undefined> {
    const row = await this.store.findByIdentifier(owner.username, identifier);
    return row && row.type === 'MACHINE_IMAGE_ORIGIN' && !row.quarantine ? row : undefined;
  }

  /**
   * The user's copy-on-write snapshot of `origin` (§11.3 steps 4 and 5): refused when the
   * origin is PRIVATE and held by neither the user nor the pdisk user. Counted in the user's quota.
   * With `delta` (an instance layer: a qcow2 over this origin), it starts with the layer's clusters.
   */
  async liveCopy(user: Principal, origin: VolumeRow, what: string, delta?: string): Promise<VolumeRow> {
    this.mayStart(user, origin, what);
    const uuid = randomUUID();
    await this.driver.snapshot(origin.uuid, uuid, delta);
    const row: VolumeRow = {
      uuid, owner: user.username, tag: origin.tag, visibility: 'PRIVATE', type: 'MACHINE_IMAGE_LIVE', identifier: `snapshot:${origin.uuid}`,
      size_gib: origin.size_gib, bytes: origin.bytes, format: 'qcow2', origin: origin.uuid, quarantine: '', created: this.clock().toISOString(), deleted: null,
    };
    try {
      await this.store.insertWithinQuota(row, await this.quotas.quotaOf(user.username), { username: user.username, id: user.id });
    } catch (e) {
      await this.driver.delete(uuid);
      throw e;
    }
    return row;
  }

  /**
   * A pdisk volume given as the image (§11.3 step 7): the user's own MACHINE_IMAGE_LIVE volume
   * that no VM uses. Someone else's private volume does not exist, as on every pdisk route.
   */
  async bootable(user: Principal, uuid: string): Promise<VolumeRow> {
    const row = usable(user, uuid, await this.store.get(requireUuid(uuid)));
    if (row.type === 'MACHINE_IMAGE_ORIGIN') return row;
    if (row.type !== 'MACHINE_IMAGE_LIVE') {
      throw new StratusError('VOLUME_STATE', `Invalid disk state: ${row.type}. Only MACHINE_IMAGE_LIVE and MACHINE_IMAGE_ORIGIN volumes boot.`, {
        hint: 'Give a machine image volume, or mark it with stratus-update-volume.',
      });
    }
    if (row.owner !== user.username) throw new StratusError('FORBIDDEN', `volume ${row.uuid} belongs to ${row.owner}; only its owner boots it`);
    if ((await this.store.mounts(row.uuid)).length > 0) throw new StratusError('VOLUME_IN_USE', `DISK ${row.uuid}: Disk not available (it is in use by a VM)`);
    return row;
  }

  /** The cached origin of an image `user` may start (§11.3 step 4), or FORBIDDEN with StratusLab's message. */
  mayStart(user: Principal, origin: VolumeRow, what: string): VolumeRow {
    if (origin.visibility === 'PRIVATE' && origin.owner !== user.username && origin.owner !== this.pdiskUser && !user.admin) {
      throw new StratusError('FORBIDDEN', `User ${user.username} is not authorized to start image ${what}`);
    }
    return origin;
  }

  /**
   * A volume `user` may attach to a VM of theirs, and whether it goes in read-only: rights as
   * pdisk's (their own, or a PUBLIC one, which others get read-only), data disks only.
   */
  async attachable(user: Principal, uuid: string): Promise<{ volume: VolumeRow; readOnly: boolean }> {
    const volume = attachableVolume(user, uuid, await this.store.get(requireUuid(uuid)));
    return { volume, readOnly: readOnlyFor(user.username, volume, await this.snapshots(volume.uuid)) };
  }

  /** Copy-on-write snapshots read through the volume: writing it would change them under their VMs. */
  private async snapshots(uuid: string): Promise<number> {
    return (await this.store.counts([uuid])).snapshots.get(uuid) ?? 0;
  }

  /** How many more VMs of `user` may have the volume attached now (run-instance -n checks it first). */
  async room(user: Principal, volume: VolumeRow): Promise<{ free: number; why: string }> {
    return roomFor(volume, await this.store.mounts(volume.uuid), user.username, await this.snapshots(volume.uuid));
  }

  /**
   * Records the volume as attached to `vmId` on the highest device free on that VM (not in
   * `inUse`, nor recorded for it), deciding with the volume's row locked: rights, type and
   * room are checked again against what is recorded then, so two VMs racing for a volume
   * attached read-write cannot both have it. Another account's record on the same VM id (a
   * pdisk mount made by hand) is replaced: the VM is `user`'s.
   */
  async attach(user: Principal, uuid: string, vmId: string, inUse: Iterable<string> = []): Promise<Attached> {
    const used = new Set(inUse);
    for (const a of await this.attachments(vmId, user.username)) used.add(a.mount.target);
    const target = VM_TARGETS.find((t) => !used.has(t));
    if (!target) throw new StratusError('VOLUME_IN_USE', `VM ${vmId} has ${VM_TARGETS.length} volumes attached, as many as it can have`, { hint: 'Detach one first.' });
    let readOnly = true;
    // No snapshot of a data volume can be made meanwhile (only MACHINE_IMAGE_ORIGIN volumes have new ones).
    const snapshots = await this.snapshots(requireUuid(uuid));
    const mount = await this.store.insertMount(requireUuid(uuid), (existing, current) => {
      const volume = attachableVolume(user, uuid, current);
      readOnly = readOnlyFor(user.username, volume, snapshots);
      const id = `${volume.uuid}_${vmId}`;
      const same = existing.find((m) => m.id === id);
      if (same && same.owner === user.username && same.node === INSTANCE_NODE) {
        throw new StratusError('VOLUME_IN_USE', `DISK ${volume.uuid}: already attached to VM ${vmId} on /dev/${same.target}`, { hint: 'It is there already; nothing was changed.' });
      }
      const room = roomFor(volume, existing.filter((m) => m.id !== id), user.username, snapshots);
      if (room.free < 1) throw new StratusError('VOLUME_IN_USE', `DISK ${volume.uuid}: Disk not available`, { hint: room.why });
      return {
        mount: { id, volume: volume.uuid, vm_id: vmId, node: INSTANCE_NODE, target, created: formatUtc(this.clock()), owner: user.username },
        replace: same !== undefined,
      };
    }, user.id ? { username: user.username, id: user.id } : undefined);
    return { mount, readOnly };
  }

  /** The volumes `owner` has attached to `vmId` (records made by hand through pdisk, or by others, are not). */
  async attachments(vmId: string, owner: string): Promise<Attached[]> {
    const attached: Attached[] = [];
    for (const mount of await this.store.mountsOfVm(vmId)) {
      if (mount.node !== INSTANCE_NODE || mount.owner !== owner || !VM_TARGETS.includes(mount.target)) continue;
      const volume = await this.store.get(mount.volume);
      attached.push({ mount, readOnly: !volume || readOnlyFor(owner, volume, await this.snapshots(volume.uuid)) });
    }
    return attached;
  }

  /** Ends the record of an attachment; returns it, or undefined when there was none. */
  async detach(uuid: string, vmId: string, owner: string): Promise<MountRow | undefined> {
    const id = requireUuid(uuid);
    return this.store.removeMount(id, `${id}_${vmId}`, (m) => m.node === INSTANCE_NODE && m.owner === owner && VM_TARGETS.includes(m.target));
  }

  /** Ends every record of this server's instance `vmId` (its boot claim, its attachments): the VM is gone. */
  async releaseVm(vmId: string): Promise<void> {
    for (const m of await this.store.mountsOfVm(vmId)) {
      if (m.node === INSTANCE_NODE) await this.store.removeMount(m.volume, m.id, () => true);
    }
  }

  /** Records that `vmId` boots the volume, so no second VM boots it meanwhile. */
  async claim(uuid: string, vmId: string, user: Principal): Promise<void> {
    await this.store.insertMount(uuid, (existing) => {
      if (existing.length > 0) throw new StratusError('VOLUME_IN_USE', `DISK ${uuid}: Disk not available (it is in use by a VM)`);
      return { mount: { id: `${uuid}_${vmId}`, volume: uuid, vm_id: vmId, node: INSTANCE_NODE, target: 'root', created: formatUtc(this.clock()), owner: user.username }, replace: false };
    });
  }

  async release(uuid: string, vmId: string): Promise<void> {
    await this.store.removeMount(uuid, `${uuid}_${vmId}`, () => true);
  }

  locate(uuid: string): VolumeLocation {
    return this.driver.locate(uuid);
  }

  /**
   * §2.4 steps 2, 3 and 5 in one: the instance's snapshot `uuid` (a MACHINE_IMAGE_LIVE overlay of
   * an origin; the VM must be stopped) becomes a new standalone volume of `owner`'s, whose
   * bytes, four checksums and identifier come from the same pass as the copy: a qcow2 of the
   * clusters the disk stores (`format`, the default), or the whole raw disk. The volume is
   * the new image's seed (MACHINE_IMAGE_ORIGIN: snapshots are made of it), PRIVATE, tagged with
   * `tag` (the title, cut to a tag's 40 characters), in the owner's quota. The snapshot is left
   * as it was: on any failure (the quota, a duplicate of the owner's, the disk) nothing new
   * stays and the user's changes are still there.
   */
  async saveSnapshot(uuid: string, owner: AccountRef, o: { tag: string; target?: string; format?: VolumeFormat; onProgress?: (bytes: number) => void }): Promise<{ volume: VolumeRow; content: DigestResult }> {
    const snapshot = await this.store.get(requireUuid(uuid));
    if (!snapshot || snapshot.quarantine || snapshot.type !== 'MACHINE_IMAGE_LIVE' || !snapshot.origin || snapshot.format !== 'qcow2') {
      throw new StratusError('VOLUME_STATE', `volume ${uuid} is not a copy-on-write snapshot of an image (it is ${snapshot ? snapshot.type : 'gone'}): only such a disk is saved as a new image`);
    }
    const target = o.target ?? randomUUID();
    const progress = o.onProgress ? { onProgress: o.onProgress } : {};
    const qcow2 = (o.format ?? 'qcow2') === 'qcow2' ? await copyQcow2Hashed(this.driver, snapshot.uuid, target, progress) : undefined;
    const content = qcow2?.content ?? await copyRawHashed(this.driver, snapshot.uuid, target, progress);
    const volume: VolumeRow = {
      uuid: target, owner: owner.username, tag: o.tag.slice(0, 40), visibility: 'PRIVATE', type: 'MACHINE_IMAGE_ORIGIN',
      identifier: identifierFromSha1(content.digests.sha1 as string), size_gib: bytesToGib(qcow2?.virtualSize ?? content.bytes), bytes: content.bytes,
      format: qcow2 ? 'qcow2' : 'raw', origin: null,
      quarantine: '', created: this.clock().toISOString(), deleted: null,
    };
    try {
      await this.store.insertWithinQuota(volume, await this.quotas.quotaOf(owner.username), owner);
    } catch (e) {
      await this.driver.delete(target);
      throw e;
    }
    return { volume, content };
  }

  /** A volume saved by saveSnapshot, if it is there. */
  async savedVolume(uuid: string): Promise<VolumeRow | undefined> {
    return this.store.get(requireUuid(uuid));
  }

  /** Removes what saveSnapshot made under `uuid` (its row and bytes), if anything: a save that is undone or done again. */
  async dropSaved(uuid: string): Promise<void> {
    if (await this.store.get(requireUuid(uuid))) {
      for (const gone of await this.store.remove(uuid, this.clock().toISOString())) await this.driver.delete(gone);
    }
    await this.driver.delete(uuid);
    await rm(savingFile(this.driver, uuid), { force: true });
  }

  /** §11.4: the ended instance's snapshot goes to the pdisk user, dated. */
  async quarantine(uuid: string): Promise<void> {
    await this.store.quarantine(uuid, this.pdiskUser, this.clock().toISOString());
  }

  /** Deletes the disks quarantined longer than `periodMs`; returns their UUIDs. */
  async purge(periodMs: number): Promise<string[]> {
    const before = new Date(this.clock().getTime() - periodMs).toISOString();
    const purged: string[] = [];
    for (const row of await this.store.quarantinedBefore(before)) {
      for (const gone of await this.store.remove(row.uuid, this.clock().toISOString())) await this.driver.delete(gone);
      purged.push(row.uuid);
    }
    return purged;
  }
}

/** The volume, if `user` may use it (§7.1: their own, a PUBLIC one; the admin any); others' private ones do not exist. */
function usable(user: Principal, uuid: string, row: VolumeRow | undefined): VolumeRow {
  if (!row || row.quarantine || !(user.admin || row.owner === user.username || row.visibility === 'PUBLIC')) {
    throw new StratusError('VOLUME_NOT_FOUND', `no volume ${uuid.toLowerCase()}`);
  }
  return row;
}

function attachableVolume(user: Principal, uuid: string, row: VolumeRow | undefined): VolumeRow {
  const volume = usable(user, uuid, row);
  if (!ATTACHABLE.has(volume.type)) {
    throw new StratusError('VOLUME_STATE', `DISK ${volume.uuid}: Invalid disk state: ${volume.type}. Only data volumes (DATA_IMAGE_*) attach to a VM.`, {
      hint: volume.type === 'MACHINE_IMAGE_LIVE' || volume.type === 'MACHINE_IMAGE_ORIGIN'
        ? 'A machine image boots (stratus-run-instance <uuid>); to read it as data, mark it with stratus-update-volume first.'
        : 'Create a data volume with stratus-create-volume.',
    });
  }
  return volume;
}

/** Only its owner writes a volume, only one of the writable types, and only while no snapshot reads through it. */
function readOnlyFor(username: string, volume: VolumeRow, snapshots: number): boolean {
  return volume.owner !== username || !writable(volume, snapshots);
}

function writable(volume: VolumeRow, snapshots: number): boolean {
  return WRITABLE.has(volume.type) && snapshots === 0;
}

/**
 * How many more VMs of `username` may have `volume` (given its other mounts), and why none.
 * A volume its owner writes goes into one VM alone: her read-write attachment needs no other
 * mount of hers, and nobody attaches it while she has it. Readers share it, ten a side as
 * pdisk counted mounts. Other accounts' readers never hold the owner back (what others do with
 * a PUBLIC volume never binds her): they see her writes, as on any shared disk.
 */
function roomFor(volume: VolumeRow, existing: MountRow[], username: string, snapshots: number): { free: number; why: string } {
  const owners = existing.filter((m) => m.owner === volume.owner);
  const owner = username === volume.owner;
  const writer = owners.find((m) => m.target === 'root' || writable(volume, snapshots));
  if (owner && writable(volume, snapshots)) {
    const other = owners[0];
    return other
      ? { free: 0, why: `It is attached read-write to VM ${other.vm_id}, and a volume attached read-write is in one VM at a time: detach it there first.` }
      : { free: 1, why: '' };
  }
  if (writer) {
    return { free: 0, why: owner ? `It is attached read-write to VM ${writer.vm_id}: detach it there first.` : 'Its owner has it attached read-write to a VM; nobody else can attach it meanwhile.' };
  }
  const side = existing.filter((m) => (m.owner === volume.owner) === owner).length;
  return side >= MAX_READERS
    ? { free: 0, why: `${side}/${MAX_READERS} VMs read it already${owner ? '' : ' (of accounts other than its owner)'}: detach it from one first.` }
    : { free: MAX_READERS - side, why: '' };
}
