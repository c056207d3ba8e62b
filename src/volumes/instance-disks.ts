import { randomUUID } from 'node:crypto';
import { StratusError } from '../domain/errors.js';
import { formatUtc } from '../domain/dates.js';
import { bytesToGib, requireUuid } from '../domain/volume.js';
import type { Principal } from '../accounts/accounts.js';
import type { VolumeDriver, VolumeLocation } from '../storage/volumes/driver.js';
import type { Quota, VolumeRow, VolumeStore } from '../storage/volumes/store.js';

/** quarantine_period's default (§11.4): 15 minutes. */
export const DEFAULT_QUARANTINE_MS = 15 * 60_000;

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

  /** The cached origin of `identifier`, if any (the cache lookup). */
  origin(identifier: string): Promise<VolumeRow | undefined> {
    return this.store.findOrigin(identifier);
  }

  /** Makes a verified download the cached origin of `identifier`. */
  async addOrigin(file: string, identifier: string, tag = ''): Promise<VolumeRow> {
    const uuid = randomUUID();
    const { bytes } = await this.driver.importRaw(uuid, file);
    const row: VolumeRow = {
      uuid, owner: this.pdiskUser, tag: tag.slice(0, 40), visibility: 'PRIVATE', type: 'MACHINE_IMAGE_ORIGIN', identifier,
      size_gib: bytesToGib(bytes), bytes, format: 'raw', origin: null, quarantine: '', created: this.clock().toISOString(), deleted: null,
    };
    try {
      await this.store.insertWithinQuota(row, { gib: null, volumes: null });
    } catch (e) {
      await this.driver.delete(uuid);
      throw e;
    }
    return row;
  }

  /**
   * The user's copy-on-write snapshot of `origin` (§11.3 steps 4 and 5): refused when the
   * origin is PRIVATE and held by neither the user nor the pdisk user. Counted in the user's quota.
   */
  async liveCopy(user: Principal, origin: VolumeRow, what: string): Promise<VolumeRow> {
    if (origin.visibility === 'PRIVATE' && origin.owner !== user.username && origin.owner !== this.pdiskUser && !user.admin) {
      throw new StratusError('FORBIDDEN', `User ${user.username} is not authorized to start image ${what}`);
    }
    const uuid = randomUUID();
    await this.driver.snapshot(origin.uuid, uuid);
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
    const row = await this.store.get(requireUuid(uuid));
    if (!row || row.quarantine || !(user.admin || row.owner === user.username || row.visibility === 'PUBLIC')) {
      throw new StratusError('VOLUME_NOT_FOUND', `no volume ${uuid.toLowerCase()}`);
    }
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

  /** Records that `vmId` boots the volume, so no second VM boots it meanwhile. */
  async claim(uuid: string, vmId: string, user: Principal): Promise<void> {
    await this.store.insertMount(uuid, (existing) => {
      if (existing.length > 0) throw new StratusError('VOLUME_IN_USE', `DISK ${uuid}: Disk not available (it is in use by a VM)`);
      return { mount: { id: `${uuid}_${vmId}`, volume: uuid, vm_id: vmId, node: 'localhost', target: 'root', created: formatUtc(this.clock()), owner: user.username }, replace: false };
    });
  }

  async release(uuid: string, vmId: string): Promise<void> {
    await this.store.removeMount(uuid, `${uuid}_${vmId}`, () => true);
  }

  locate(uuid: string): VolumeLocation {
    return this.driver.locate(uuid);
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
