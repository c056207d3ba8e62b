import { sql } from 'kysely';
import type { Insertable, Kysely, Selectable } from 'kysely';
import { StratusError } from '../../domain/errors.js';
import type { Database, MountsTable, Tables, VolumesTable } from '../database.js';

export type VolumeRow = Selectable<VolumesTable>;
export type MountRow = Selectable<MountsTable>;

/** Limits to enforce while inserting: null means unlimited. */
export interface Quota {
  gib: number | null;
  volumes: number | null;
}

/** What an owner's volumes take: how many, and their GiB. */
export interface Usage {
  n: number;
  gib: number;
}

/**
 * The QUOTA_EXCEEDED error for one more volume of `owner` given its `use`, or undefined when
 * it fits. `gib`, the new volume's size, is checked against the GiB limit only when known.
 */
export function quotaError(owner: string, use: Usage, quota: Quota, gib?: number): StratusError | undefined {
  if (quota.volumes !== null && use.n + 1 > quota.volumes) {
    return new StratusError('QUOTA_EXCEEDED', `quota exceeded: ${owner} has ${use.n} volumes and may have ${quota.volumes}`);
  }
  if (gib !== undefined && quota.gib !== null && use.gib + Number(gib) > quota.gib) {
    return new StratusError('QUOTA_EXCEEDED', `quota exceeded: ${owner} uses ${use.gib} GiB; ${gib} GiB more would pass the limit of ${quota.gib} GiB`);
  }
  return undefined;
}

/** The account a row is inserted for: it must still exist, with this id, when the row goes in. */
export interface AccountRef {
  username: string;
  id: string;
}

/** What a mount request decided, given the mounts the volume has. */
export interface MountChoice {
  mount: Insertable<MountsTable>;
  /** Replace the mount that has the same id (another account's claim on the same VM). */
  replace?: boolean;
}

/**
 * SQL for volumes and their mounts. Rights are the service's business, not this store's;
 * the store makes each check-then-change atomic. Rows of deleted origins that other accounts'
 * snapshots still read through (`deleted` set) are invisible to every query but `allUuids`.
 */
export class VolumeStore {
  constructor(private readonly database: Database) {}

  get(uuid: string): Promise<VolumeRow | undefined> {
    return this.database.db.selectFrom('volumes').selectAll().where('uuid', '=', uuid).where('deleted', 'is', null).executeTakeFirst();
  }

  /** Newest first. `owner` limits to one owner's volumes, plus PUBLIC ones when `withPublic`. */
  list(filter: { owner?: string; withPublic?: boolean } = {}): Promise<VolumeRow[]> {
    let q = this.database.db.selectFrom('volumes').selectAll().where('deleted', 'is', null);
    if (filter.owner !== undefined) {
      const owner = filter.owner;
      q = filter.withPublic
        ? q.where((eb) => eb.or([eb('owner', '=', owner), eb('visibility', '=', 'PUBLIC')]))
        : q.where('owner', '=', owner);
    }
    return q.orderBy('created', 'desc').orderBy('uuid').execute();
  }

  /** `owner`'s origin volume (not a snapshot) holding `identifier`, if any. */
  findByIdentifier(owner: string, identifier: string, db: Kysely<Tables> = this.database.db): Promise<VolumeRow | undefined> {
    return db.selectFrom('volumes').selectAll().where('owner', '=', owner).where('identifier', '=', identifier)
      .where('origin', 'is', null).where('deleted', 'is', null).orderBy('created').executeTakeFirst();
  }

  /** The cached origin of a Marketplace image, whoever holds it (the image cache's lookup, §11.3). */
  findOrigin(identifier: string): Promise<VolumeRow | undefined> {
    return this.database.db.selectFrom('volumes').selectAll().where('identifier', '=', identifier).where('type', '=', 'MACHINE_IMAGE_ORIGIN')
      .where('origin', 'is', null).where('deleted', 'is', null).orderBy('created').executeTakeFirst();
  }

  /** Hands a volume to `owner` (the admin) and dates its quarantine (§11.4): its user no longer sees it. */
  async quarantine(uuid: string, owner: string, when: string): Promise<void> {
    await this.database.db.updateTable('volumes').set({ owner, quarantine: when }).where('uuid', '=', uuid).where('deleted', 'is', null).execute();
  }

  /** Volumes quarantined before `before` (ISO time), oldest first. */
  quarantinedBefore(before: string): Promise<VolumeRow[]> {
    return this.database.db.selectFrom('volumes').selectAll().where('quarantine', '!=', '').where('quarantine', '<', before)
      .where('deleted', 'is', null).orderBy('quarantine').execute();
  }

  /** How many volumes `owner` has and the GiB they take; `db` is the transaction to read in, if any. */
  async usage(owner: string, db: Kysely<Tables> = this.database.db): Promise<Usage> {
    const use = await db.selectFrom('volumes').select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('size_gib').as('gib')])
      .where('owner', '=', owner).where('deleted', 'is', null).executeTakeFirst();
    return { n: Number(use?.n ?? 0), gib: Number(use?.gib ?? 0) };
  }

  /**
   * Inserts a volume if the owner stays within quota and holds no other volume with the same
   * content, in one transaction under the owner's lock, so that two concurrent requests can
   * neither both squeeze under the limit nor both store the same image. A snapshot's origin is
   * locked and must still exist, so that a snapshot and the deletion of its origin cannot both
   * succeed. With `account`, the owner's account must still be the one that made the request.
   */
  async insertWithinQuota(row: Insertable<VolumesTable>, quota: Quota, account?: AccountRef): Promise<void> {
    await this.database.db.transaction().execute(async (trx) => {
      if (this.database.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(hashtext(${'quota/' + row.owner}))`.execute(trx);
      if (account) await this.requireAccount(trx, account);
      if (row.origin && !(await this.lockRow(trx, row.origin))) {
        throw new StratusError('VOLUME_NOT_FOUND', `no volume ${row.origin}: it was deleted while the snapshot was being made`);
      }
      if (quota.gib !== null || quota.volumes !== null) {
        const refused = quotaError(row.owner, await this.usage(row.owner, trx), quota, row.size_gib);
        if (refused) throw refused;
      }
      if (row.identifier && !row.origin) {
        const existing = await this.findByIdentifier(row.owner, row.identifier, trx);
        if (existing) {
          throw new StratusError('VOLUME_DUPLICATE', 'Disk already registered', { hint: `Your volume ${existing.uuid} already holds this image (identifier ${row.identifier}); use it instead.` });
        }
      }
      await trx.insertInto('volumes').values(row).execute();
    });
  }

  async update(uuid: string, fields: Partial<Pick<VolumesTable, 'tag' | 'visibility' | 'type'>>): Promise<void> {
    await this.database.db.updateTable('volumes').set(fields).where('uuid', '=', uuid).where('deleted', 'is', null).execute();
  }

  /**
   * Deletes a volume, checking and deleting in one transaction with the row locked, so that
   * of two racing deletes, or a delete racing a mount or a snapshot, exactly one wins. Only
   * what belongs to the volume's owner holds it back (VOLUME_IN_USE): the owner's mounts and
   * snapshots. Other accounts' mounts end with it. When other accounts' snapshots read through
   * it, the row is marked deleted at `when` and kept, with its bytes, until the last of them
   * goes. Returns the volumes whose bytes may now be removed: none, this one, or this one and
   * the deleted origin it was the last snapshot of. VOLUME_NOT_FOUND when the row is gone.
   */
  async remove(uuid: string, when: string): Promise<string[]> {
    return this.database.db.transaction().execute(async (trx) => {
      const row = await this.lockRow(trx, uuid);
      if (!row) throw new StratusError('VOLUME_NOT_FOUND', `no volume ${uuid}`);
      const mounts = await trx.selectFrom('mounts').select('owner').where('volume', '=', uuid).execute();
      if (mounts.some((m) => m.owner === row.owner)) throw new StratusError('VOLUME_IN_USE', `disk (${uuid}) is in use and can't be deleted`);
      const snapshots = await trx.selectFrom('volumes').select('owner').where('origin', '=', uuid).execute();
      const own = snapshots.filter((s) => s.owner === row.owner).length;
      if (own > 0) {
        throw new StratusError('VOLUME_IN_USE', `disk (${uuid}) has ${own} copy-on-write snapshots and can't be deleted`, { hint: 'Delete or rebase its snapshots first.' });
      }
      await trx.deleteFrom('mounts').where('volume', '=', uuid).execute();
      if (snapshots.length > 0) {
        await trx.updateTable('volumes').set({ deleted: when }).where('uuid', '=', uuid).execute();
        return [];
      }
      await trx.deleteFrom('volumes').where('uuid', '=', uuid).execute();
      if (!row.origin) return [uuid];
      const origin = await this.lockRow(trx, row.origin, true);
      if (!origin?.deleted) return [uuid];
      const left = await trx.selectFrom('volumes').select('uuid').where('origin', '=', origin.uuid).executeTakeFirst();
      if (left) return [uuid];
      await trx.deleteFrom('volumes').where('uuid', '=', origin.uuid).execute();
      return [uuid, origin.uuid];
    });
  }

  /**
   * Records a mount chosen by `choose` from the volume's row and current mounts, in one
   * transaction with the volume's row locked: a mount cannot slip in after a delete checked
   * for mounts, and two mounts cannot take the same device or slot. Throws VOLUME_NOT_FOUND
   * when the row is gone. With `account`, the mounting account must still be the one that
   * made the request.
   */
  async insertMount(uuid: string, choose: (existing: MountRow[], volume: VolumeRow) => MountChoice, account?: AccountRef): Promise<MountRow> {
    return this.database.db.transaction().execute(async (trx) => {
      // The account before the volume, in the order every transaction takes them.
      if (account) await this.requireAccount(trx, account);
      const volume = await this.lockRow(trx, uuid);
      if (!volume) throw new StratusError('VOLUME_NOT_FOUND', `no volume ${uuid}`);
      const { mount, replace } = choose(await trx.selectFrom('mounts').selectAll().where('volume', '=', uuid).orderBy('created').execute(), volume);
      if (replace) await trx.deleteFrom('mounts').where('id', '=', mount.id).execute();
      await trx.insertInto('mounts').values(mount).execute();
      return mount as MountRow;
    });
  }

  /**
   * Removes mount `id` of volume `uuid` if `allowed` says so, deciding with the volume's row
   * locked. Returns the mount removed, or undefined when there is none or it is not allowed.
   */
  async removeMount(uuid: string, id: string, allowed: (mount: MountRow, volume: VolumeRow) => boolean): Promise<MountRow | undefined> {
    return this.database.db.transaction().execute(async (trx) => {
      const volume = await this.lockRow(trx, uuid);
      if (!volume) return undefined;
      const mount = await trx.selectFrom('mounts').selectAll().where('id', '=', id).where('volume', '=', uuid).executeTakeFirst();
      if (!mount || !allowed(mount, volume)) return undefined;
      await trx.deleteFrom('mounts').where('id', '=', id).execute();
      return mount;
    });
  }

  /**
   * Locks a volume's row for the rest of the transaction (PostgreSQL: FOR UPDATE; SQLite runs
   * one transaction at a time on the server's connection) and returns it, if it exists and is
   * live (or, with `withDeleted`, also when it is a deleted origin kept for snapshots).
   */
  private async lockRow(trx: Kysely<Tables>, uuid: string, withDeleted = false): Promise<VolumeRow | undefined> {
    let q = trx.selectFrom('volumes').selectAll().where('uuid', '=', uuid);
    if (!withDeleted) q = q.where('deleted', 'is', null);
    if (this.database.dialect === 'postgres') q = q.forUpdate();
    return q.executeTakeFirst();
  }

  /**
   * Throws unless `account` still exists with the same id; on PostgreSQL its row is share-locked,
   * so that its removal either waits for this transaction or is seen by it.
   */
  private async requireAccount(trx: Kysely<Tables>, account: AccountRef): Promise<void> {
    let q = trx.selectFrom('users').select('id').where('username', '=', account.username).where('id', '=', account.id);
    if (this.database.dialect === 'postgres') q = q.forShare();
    if (!(await q.executeTakeFirst())) {
      throw new StratusError('AUTH_REQUIRED', `the account ${account.username} was removed while this request ran; nothing was stored`);
    }
  }

  /** Snapshots per origin and mounts per volume, for the `count` field. */
  async counts(uuids: string[]): Promise<{ snapshots: Map<string, number>; mounts: Map<string, number> }> {
    const snapshots = new Map<string, number>();
    const mounts = new Map<string, number>();
    if (uuids.length === 0) return { snapshots, mounts };
    for (const r of await this.database.db.selectFrom('volumes').select(['origin', (eb) => eb.fn.countAll<number>().as('n')])
      .where('origin', 'in', uuids).groupBy('origin').execute()) snapshots.set(r.origin as string, Number(r.n));
    for (const r of await this.database.db.selectFrom('mounts').select(['volume', (eb) => eb.fn.countAll<number>().as('n')])
      .where('volume', 'in', uuids).groupBy('volume').execute()) mounts.set(r.volume, Number(r.n));
    return { snapshots, mounts };
  }

  mounts(uuid: string): Promise<MountRow[]> {
    return this.database.db.selectFrom('mounts').selectAll().where('volume', '=', uuid).orderBy('created').execute();
  }

  /** The mounts recorded for one VM id, of any volume (an instance's attachments). */
  mountsOfVm(vmId: string): Promise<MountRow[]> {
    return this.database.db.selectFrom('mounts').selectAll().where('vm_id', '=', vmId).orderBy('created').execute();
  }

  /** Every volume with bytes, deleted origins kept for snapshots included (for the start-up reconcile). */
  async allUuids(): Promise<string[]> {
    return (await this.database.db.selectFrom('volumes').select('uuid').execute()).map((r) => r.uuid);
  }
}
