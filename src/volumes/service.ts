import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { StratusError } from '../domain/errors.js';
import { formatUtc } from '../domain/dates.js';
import { identifierFromSha1 } from '../domain/identifier.js';
import { bytesToGib, gibToBytes, requireSize, requireTag, requireType, requireUuid, requireVisibility } from '../domain/volume.js';
import type { MountInfo, VolumeInfo, VolumeType, Visibility } from '../domain/volume.js';
import type { Principal } from '../accounts/accounts.js';
import type { VolumeDriver } from '../storage/volumes/driver.js';
import { quotaError } from '../storage/volumes/store.js';
import type { AccountRef, MountChoice, MountRow, Quota, VolumeRow, VolumeStore } from '../storage/volumes/store.js';
import { streamIntoVolume } from './ingest.js';
import { UploadBudgets } from './budget.js';
import { copyRawHashed } from './copy.js';

export interface VolumeFields {
  tag?: string;
  visibility?: string;
  type?: string;
}

/** Devices handed out for hot-plugged volumes, highest first (StratusLab: vdz, vdy, …). */
const TARGETS = Array.from({ length: 20 }, (_, i) => `vd${String.fromCharCode('z'.charCodeAt(0) - i)}`);
/**
 * StratusLab clients assume at most ten simultaneous users of a volume. The owner has ten
 * slots, and other accounts (on a PUBLIC volume) ten more between them, so they can never
 * take the owner's; with twenty devices, every slot has one.
 */
const MAX_MOUNTS = 10;
/** The default of max_volume_gib: StratusLab's largest volume. */
export const DEFAULT_MAX_VOLUME_GIB = 1024;

export interface VolumeServiceOptions {
  /** The largest volume, in GiB, that create and upload make (max_volume_gib). */
  maxVolumeGib?: number;
  clock?: () => Date;
}

/**
 * The persistent disk service (reference §7). Rights follow §7.1: view/use/attach for the
 * owner, the admin, or anyone when PUBLIC; edit/delete for the owner or the admin. Other
 * users' private volumes do not exist as far as a caller can tell (404, not 403). Viewing and
 * downloading a PUBLIC volume needs no account at all.
 *
 * What others do with a PUBLIC volume never binds its owner: their mounts have slots of their
 * own, are seen and ended only by them, the owner and the admin, and end when the owner deletes
 * the volume; their snapshots keep reading the origin after the owner deleted it (the store
 * keeps its bytes, hidden, until the last of them goes); their uploads of the same image make
 * volumes of their own, so a duplicate is refused only within one account.
 */
export class VolumeService {
  private readonly clock: () => Date;
  private readonly maxVolumeGib: number;
  private readonly budgets: UploadBudgets;

  constructor(
    private readonly store: VolumeStore,
    private readonly driver: VolumeDriver,
    private readonly quotas: { quotaOf(username: string): Promise<Quota> },
    options: VolumeServiceOptions = {},
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.maxVolumeGib = options.maxVolumeGib ?? DEFAULT_MAX_VOLUME_GIB;
    this.budgets = new UploadBudgets(this.maxVolumeGib);
  }

  /** The caller's volumes and every PUBLIC one; the admin sees all. Newest first. */
  async list(actor: Principal): Promise<VolumeInfo[]> {
    const rows = await this.store.list(actor.admin ? {} : { owner: actor.username, withPublic: true });
    return this.infos(rows);
  }

  /** One volume; `actor` undefined is an anonymous caller, who sees PUBLIC volumes only. */
  async get(actor: Principal | undefined, uuid: string): Promise<VolumeInfo> {
    return this.info(await this.viewable(actor, uuid));
  }

  /** An empty (sparse) volume of `size` GiB. */
  async create(actor: Principal, req: VolumeFields & { size: unknown }): Promise<VolumeInfo> {
    const size = requireSize(req.size);
    if (size > this.maxVolumeGib) {
      throw new StratusError('VOLUME_TOO_LARGE', `a volume of ${size} GiB is larger than this server's limit of ${this.maxVolumeGib} GiB (max_volume_gib)`);
    }
    const uuid = randomUUID();
    const row = this.newRow(actor.username, uuid, { ...this.fields(req), size_gib: size, bytes: gibToBytes(size), identifier: '', format: 'raw', origin: null });
    await this.driver.createEmpty(uuid, row.bytes);
    await this.orDelete(uuid, async () => this.store.insertWithinQuota(row, await this.quotas.quotaOf(row.owner), account(actor)));
    return this.info(row);
  }

  /**
   * Stores an uploaded image: gunzip (when `gzipped`), SHA-1 and write happen in one pass over
   * the stream; the identifier of the inflated content becomes the volume's. The upload is
   * counted against max_volume_gib and the owner's GiB quota while it streams, and stopped at
   * the chunk that passes either. Nothing is kept unless the whole stream arrived, fits, and
   * the content is new to the caller's own volumes (others' volumes are not looked at, so an
   * upload tells nothing about what other accounts hold).
   */
  async upload(actor: Principal, source: Readable, req: VolumeFields & { gzipped: boolean }): Promise<VolumeInfo> {
    const fields = this.fields({ type: 'DATA_IMAGE_RAW_READONLY', ...req });
    const quota = await this.quotas.quotaOf(actor.username);
    const use = quota.volumes !== null || quota.gib !== null ? await this.store.usage(actor.username) : { n: 0, gib: 0 };
    // Refused before any byte is stored when no volume, or not one GiB, is left.
    const refused = quotaError(actor.username, use, quota);
    if (refused) throw refused;
    const budget = this.budgets.open(actor.username, use, quota);
    try {
      const uuid = randomUUID();
      const result = await streamIntoVolume(this.driver, uuid, source, req.gzipped, budget);
      const identifier = identifierFromSha1(result.sha1);
      const row = await this.orDelete(uuid, async () => {
        const r = this.newRow(actor.username, uuid, { ...fields, identifier, size_gib: bytesToGib(result.bytes), bytes: result.bytes, format: 'raw', origin: null });
        await this.store.insertWithinQuota(r, quota, account(actor));
        return r;
      });
      return await this.info(row);
    } finally {
      budget.close();
    }
  }

  /** Tag, visibility and type: the owner or the admin only. */
  async update(actor: Principal, uuid: string, req: VolumeFields): Promise<VolumeInfo> {
    const row = await this.editable(actor, uuid);
    const f = this.fields(req);
    const changes: { tag?: string; visibility?: Visibility; type?: VolumeType } = {};
    if (req.tag !== undefined) changes.tag = f.tag;
    if (req.visibility !== undefined) changes.visibility = f.visibility;
    if (req.type !== undefined) changes.type = f.type;
    if (Object.keys(changes).length > 0) await this.store.update(row.uuid, changes);
    return this.info({ ...row, ...changes });
  }

  /**
   * Deletes a volume, refusing while its owner has it mounted or has snapshots of it; other
   * accounts' mounts end, and their snapshots keep its bytes (hidden) until they go. The check
   * and the deletion are one transaction, so a racing delete, mount or snapshot cannot also win.
   */
  async delete(actor: Principal, uuid: string): Promise<string> {
    const row = await this.editable(actor, uuid);
    // Rows first: a crash in between leaves files the start-up sweep removes, never a row without data.
    for (const gone of await this.store.remove(row.uuid, this.clock().toISOString())) await this.driver.delete(gone);
    return row.uuid;
  }

  /**
   * StratusLab's "POST /disks/<uuid>": a copy-on-write snapshot of a MACHINE_IMAGE_ORIGIN
   * volume, or the rebase of a MACHINE_IMAGE_LIVE snapshot into a standalone origin.
   */
  async copy(actor: Principal, uuid: string): Promise<VolumeInfo> {
    const row = await this.viewable(actor, uuid);
    if (row.type === 'MACHINE_IMAGE_ORIGIN') return this.snapshotOf(actor, row);
    if (row.type === 'MACHINE_IMAGE_LIVE') return this.rebaseOf(actor, mayEdit(actor, row));
    throw copyStateError(row);
  }

  async snapshot(actor: Principal, uuid: string): Promise<VolumeInfo> {
    return this.snapshotOf(actor, await this.viewable(actor, uuid));
  }

  /** A standalone MACHINE_IMAGE_ORIGIN copy of a snapshot, identified by its content. */
  async rebase(actor: Principal, uuid: string): Promise<VolumeInfo> {
    return this.rebaseOf(actor, await this.editable(actor, uuid));
  }

  /** The gzipped content of a volume the caller (or, when PUBLIC, anyone) may use. */
  async download(actor: Principal | undefined, uuid: string): ReturnType<VolumeDriver['gzipped']> {
    const row = await this.viewable(actor, uuid);
    return this.driver.gzipped(row.uuid);
  }

  /** The volume's mounts: all of them for its owner and the admin, a caller's own for anyone else. */
  async mounts(actor: Principal, uuid: string): Promise<MountInfo[]> {
    const row = await this.viewable(actor, uuid);
    return (await this.store.mounts(row.uuid)).filter((m) => mayEndMount(actor, m, row)).map((m) => mountInfo(m, row));
  }

  /**
   * Records that `vmId` on `node` uses the volume, on the highest free device (vdz, vdy, …).
   * Needs read access. The owner's mounts and everyone else's fill separate slots; a mount of
   * the owner's replaces another account's claim on the same VM id, which cannot be checked
   * until instances are recorded. A mount by anyone but the owner is read-only.
   */
  async mount(actor: Principal, uuid: string, req: { node: string; vmId: string; registerOnly?: boolean }): Promise<MountInfo> {
    const row = await this.viewable(actor, uuid);
    if (!req.node || !req.vmId) throw new StratusError('USAGE', 'a mount needs node and vm_id');
    const m = await this.store.insertMount(row.uuid, (existing, volume) => this.chooseMount(actor, volume, existing, req), account(actor));
    return mountInfo(m, row);
  }

  /** Ends a mount: the account that made it, the volume's owner or the admin; others' mounts are not found. */
  async unmount(actor: Principal, uuid: string, mountId: string): Promise<MountInfo> {
    const row = await this.viewable(actor, uuid);
    const m = await this.store.removeMount(row.uuid, mountId, (mount, volume) => mayEndMount(actor, mount, volume));
    if (!m) throw new StratusError('VOLUME_NOT_FOUND', `no mount ${mountId} on disk ${row.uuid}`);
    return mountInfo(m, row);
  }

  private chooseMount(actor: Principal, volume: VolumeRow, existing: MountRow[], req: { node: string; vmId: string; registerOnly?: boolean }): MountChoice {
    const id = `${volume.uuid}_${req.vmId}`;
    const owners = actor.username === volume.owner;
    const same = existing.find((x) => x.id === id);
    const replace = same !== undefined && owners && same.owner !== volume.owner;
    if (same && !replace) throw new StratusError('VOLUME_IN_USE', `disk ${volume.uuid} is already mounted in VM ${req.vmId}`);
    const kept = existing.filter((x) => x.id !== id);
    const slots = kept.filter((x) => (x.owner === volume.owner) === owners).length;
    if (slots >= MAX_MOUNTS) {
      throw new StratusError('VOLUME_IN_USE', `DISK ${volume.uuid}: Disk not available (${slots}/${MAX_MOUNTS} mounts${owners ? '' : ' by accounts other than its owner'})`);
    }
    const used = new Set(kept.map((x) => x.target));
    const target = req.registerOnly ? 'static' : TARGETS.find((t) => !used.has(t));
    if (!target) throw new StratusError('VOLUME_IN_USE', 'no free devices available');
    return { mount: { id, volume: volume.uuid, vm_id: req.vmId, node: req.node, target, created: formatUtc(this.clock()), owner: actor.username }, replace };
  }

  /**
   * Makes files and rows agree after a crash: removes temporary files and stored bytes that
   * no row refers to. Returns what it removed, and rows whose bytes are missing.
   */
  async reconcile(): Promise<{ temporary: number; orphans: string[]; missing: string[] }> {
    const temporary = await this.driver.sweep();
    const rows = new Set(await this.store.allUuids());
    const { volumes } = await this.driver.inventory();
    const orphans = volumes.filter((u) => !rows.has(u));
    for (const u of orphans) await this.driver.delete(u);
    const missing: string[] = [];
    for (const u of rows) if (!(await this.driver.exists(u))) missing.push(u);
    return { temporary, orphans, missing };
  }

  /** `uuid`'s row if `actor` (undefined: anonymous) may view it; others' private volumes do not exist. */
  private async viewable(actor: Principal | undefined, uuid: string): Promise<VolumeRow> {
    const row = await this.store.get(requireUuid(uuid));
    if (!row || !(row.visibility === 'PUBLIC' || (actor && (actor.admin || row.owner === actor.username)))) {
      // Anonymous callers get the same answer for private and absent volumes, with a pointer to credentials.
      throw new StratusError('VOLUME_NOT_FOUND', `no volume ${uuid.toLowerCase()}`, actor ? {} : {
        hint: 'Only PUBLIC volumes can be read without an account; give the owner\'s username and password for a private one.',
      });
    }
    return row;
  }

  private async editable(actor: Principal, uuid: string): Promise<VolumeRow> {
    return mayEdit(actor, await this.viewable(actor, uuid));
  }

  /** A copy-on-write snapshot of `origin`, a volume the caller may view. */
  private async snapshotOf(actor: Principal, origin: VolumeRow): Promise<VolumeInfo> {
    if (origin.type !== 'MACHINE_IMAGE_ORIGIN' || origin.format !== 'raw') {
      throw new StratusError('VOLUME_STATE', `Invalid disk state: ${origin.type}. Only MACHINE_IMAGE_ORIGIN volumes have copy-on-write snapshots.`, {
        hint: 'Mark the image volume as an origin first: stratus-update-volume --machine-image-origin <uuid>.',
      });
    }
    const uuid = randomUUID();
    await this.driver.snapshot(origin.uuid, uuid);
    const row = this.newRow(actor.username, uuid, {
      tag: origin.tag, visibility: 'PRIVATE', type: 'MACHINE_IMAGE_LIVE', identifier: `snapshot:${origin.uuid}`,
      size_gib: origin.size_gib, bytes: origin.bytes, format: 'qcow2', origin: origin.uuid,
    });
    await this.orDelete(uuid, async () => this.store.insertWithinQuota(row, await this.quotas.quotaOf(row.owner), account(actor)));
    return this.info(row);
  }

  /** A standalone MACHINE_IMAGE_ORIGIN copy of `snapshot`, a volume the caller may edit. */
  private async rebaseOf(actor: Principal, snapshot: VolumeRow): Promise<VolumeInfo> {
    if (snapshot.type !== 'MACHINE_IMAGE_LIVE') throw copyStateError(snapshot);
    const target = randomUUID();
    // Copied and hashed in one pass; only SHA-1 is wanted here (the identifier).
    const { bytes, digests } = await copyRawHashed(this.driver, snapshot.uuid, target, { algorithms: ['sha1'] });
    const sha1 = digests.sha1 as string;
    const row = await this.orDelete(target, async () => {
      const r = this.newRow(actor.username, target, {
        tag: snapshot.tag, visibility: 'PRIVATE', type: 'MACHINE_IMAGE_ORIGIN', identifier: identifierFromSha1(sha1),
        size_gib: bytesToGib(bytes), bytes, format: 'raw', origin: null,
      });
      await this.store.insertWithinQuota(r, await this.quotas.quotaOf(actor.username), account(actor));
      return r;
    });
    return this.info(row);
  }

  private fields(req: VolumeFields): { tag: string; visibility: Visibility; type: VolumeType } {
    return {
      tag: requireTag(req.tag ?? ''),
      visibility: requireVisibility(req.visibility ?? 'PRIVATE'),
      type: requireType(req.type ?? 'DATA_IMAGE_RAW_READ_WRITE'),
    };
  }

  private newRow(owner: string, uuid: string, r: Omit<VolumeRow, 'uuid' | 'owner' | 'quarantine' | 'created' | 'deleted'>): VolumeRow {
    return { uuid, owner, quarantine: '', created: this.clock().toISOString(), deleted: null, ...r };
  }

  /** Runs `work` (which records the volume whose bytes are stored under `uuid`); if it fails, deletes those bytes and rethrows. */
  private async orDelete<T>(uuid: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      await this.driver.delete(uuid);
      throw e;
    }
  }

  private async info(row: VolumeRow): Promise<VolumeInfo> {
    return (await this.infos([row]))[0] as VolumeInfo;
  }

  private async infos(rows: VolumeRow[]): Promise<VolumeInfo[]> {
    const { snapshots, mounts } = await this.store.counts(rows.map((r) => r.uuid));
    return rows.map((r) => ({
      uuid: r.uuid, tag: r.tag, owner: r.owner, identifier: r.identifier, size: Number(r.size_gib),
      // StratusLab's count: snapshots for origins, mounts for everything else.
      count: r.type === 'MACHINE_IMAGE_ORIGIN' ? (snapshots.get(r.uuid) ?? 0) : (mounts.get(r.uuid) ?? 0),
      type: r.type as VolumeType, visibility: r.visibility as Visibility, quarantine: r.quarantine,
      created: r.created, bytes: Number(r.bytes), format: r.format, origin: r.origin,
    }));
  }
}

/** `row`, if `actor` may change it: its owner or an admin. */
function mayEdit(actor: Principal, row: VolumeRow): VolumeRow {
  if (!actor.admin && row.owner !== actor.username) throw new StratusError('FORBIDDEN', `volume ${row.uuid} belongs to ${row.owner}; only its owner or an admin may change it`);
  return row;
}

function copyStateError(row: VolumeRow): StratusError {
  return new StratusError('VOLUME_STATE', `Invalid disk state: ${row.type}. Cannot create copy or save as new image.`);
}

/** Who may see and end a mount: the account that made it, the volume's owner, the admin. */
function mayEndMount(actor: Principal, mount: MountRow, volume: VolumeRow): boolean {
  return actor.admin || actor.username === volume.owner || actor.username === mount.owner;
}

function account(actor: Principal): AccountRef {
  return { username: actor.username, id: actor.id };
}

function mountInfo(m: MountRow, volume: VolumeRow): MountInfo {
  return { id: m.id, volume: m.volume, vmId: m.vm_id, node: m.node, target: m.target, created: m.created, owner: m.owner, readOnly: m.owner !== volume.owner };
}
