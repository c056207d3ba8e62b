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

/** SQL for volumes and their mounts. Rights are the service's business, not this store's. */
export class VolumeStore {
  constructor(private readonly database: Database) {}

  get(uuid: string): Promise<VolumeRow | undefined> {
    return this.database.db.selectFrom('volumes').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  }

  /** Newest first. `owner` limits to one owner's volumes, plus PUBLIC ones when `withPublic`. */
  list(filter: { owner?: string; withPublic?: boolean } = {}): Promise<VolumeRow[]> {
    let q = this.database.db.selectFrom('volumes').selectAll();
    if (filter.owner !== undefined) {
      const owner = filter.owner;
      q = filter.withPublic
        ? q.where((eb) => eb.or([eb('owner', '=', owner), eb('visibility', '=', 'PUBLIC')]))
        : q.where('owner', '=', owner);
    }
    return q.orderBy('created', 'desc').orderBy('uuid').execute();
  }

  findByIdentifier(identifier: string): Promise<VolumeRow | undefined> {
    return this.database.db.selectFrom('volumes').selectAll().where('identifier', '=', identifier).where('origin', 'is', null).executeTakeFirst();
  }

  /** How many volumes `owner` has and the GiB they take; `db` is the transaction to read in, if any. */
  async usage(owner: string, db: Kysely<Tables> = this.database.db): Promise<Usage> {
    const use = await db.selectFrom('volumes').select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('size_gib').as('gib')])
      .where('owner', '=', owner).executeTakeFirst();
    return { n: Number(use?.n ?? 0), gib: Number(use?.gib ?? 0) };
  }

  /**
   * Inserts a volume if the owner stays within quota, in one transaction so that two
   * concurrent requests cannot both squeeze under the limit. A snapshot's origin is locked and
   * must still exist, so that a snapshot and the deletion of its origin cannot both succeed.
   */
  async insertWithinQuota(row: Insertable<VolumesTable>, quota: Quota): Promise<void> {
    await this.database.db.transaction().execute(async (trx) => {
      if (this.database.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(hashtext(${'quota/' + row.owner}))`.execute(trx);
      if (row.origin && !(await this.lockRow(trx, row.origin))) {
        throw new StratusError('VOLUME_NOT_FOUND', `no volume ${row.origin}: it was deleted while the snapshot was being made`);
      }
      if (quota.gib !== null || quota.volumes !== null) {
        const refused = quotaError(row.owner, await this.usage(row.owner, trx), quota, row.size_gib);
        if (refused) throw refused;
      }
      try {
        await trx.insertInto('volumes').values(row).execute();
      } catch (e) {
        if (/unique|duplicate/i.test((e as Error).message) && row.identifier) {
          throw new StratusError('VOLUME_DUPLICATE', 'Disk already registered', { hint: `A volume with identifier ${row.identifier} exists already; use it instead.` });
        }
        throw e;
      }
    });
  }

  async update(uuid: string, fields: Partial<Pick<VolumesTable, 'tag' | 'visibility' | 'type'>>): Promise<void> {
    await this.database.db.updateTable('volumes').set(fields).where('uuid', '=', uuid).execute();
  }

  /**
   * Deletes a volume that is not mounted and has no snapshots, checking and deleting in one
   * transaction with the row locked, so that of two racing deletes, or a delete racing a mount
   * or a snapshot, exactly one wins. Throws VOLUME_NOT_FOUND when the row is gone and
   * VOLUME_IN_USE when it is still used.
   */
  async removeUnused(uuid: string): Promise<void> {
    await this.database.db.transaction().execute(async (trx) => {
      if (!(await this.lockRow(trx, uuid))) throw new StratusError('VOLUME_NOT_FOUND', `no volume ${uuid}`);
      const mounts = await trx.selectFrom('mounts').select((eb) => eb.fn.countAll<number>().as('n')).where('volume', '=', uuid).executeTakeFirst();
      if (Number(mounts?.n ?? 0) > 0) throw new StratusError('VOLUME_IN_USE', `disk (${uuid}) is in use and can't be deleted`);
      const snaps = await trx.selectFrom('volumes').select((eb) => eb.fn.countAll<number>().as('n')).where('origin', '=', uuid).executeTakeFirst();
      const n = Number(snaps?.n ?? 0);
      if (n > 0) {
        throw new StratusError('VOLUME_IN_USE', `disk (${uuid}) has ${n} copy-on-write snapshots and can't be deleted`, { hint: 'Delete or rebase its snapshots first.' });
      }
      await trx.deleteFrom('volumes').where('uuid', '=', uuid).execute();
    });
  }

  /**
   * Records a mount chosen by `choose` from the volume's current mounts, in one transaction
   * with the volume's row locked: a mount cannot slip in after a delete checked for mounts,
   * and two mounts cannot take the same device. Throws VOLUME_NOT_FOUND when the row is gone.
   */
  async insertMount(uuid: string, choose: (existing: MountRow[]) => Insertable<MountsTable>): Promise<MountRow> {
    return this.database.db.transaction().execute(async (trx) => {
      if (!(await this.lockRow(trx, uuid))) throw new StratusError('VOLUME_NOT_FOUND', `no volume ${uuid}`);
      const row = choose(await trx.selectFrom('mounts').selectAll().where('volume', '=', uuid).orderBy('created').execute());
      await trx.insertInto('mounts').values(row).execute();
      return row as MountRow;
    });
  }

  /**
   * Locks a volume's row for the rest of the transaction (PostgreSQL: FOR UPDATE; SQLite runs
   * one transaction at a time on the server's connection), and says whether it exists.
   */
  private async lockRow(trx: Kysely<Tables>, uuid: string): Promise<boolean> {
    let q = trx.selectFrom('volumes').select('uuid').where('uuid', '=', uuid);
    if (this.database.dialect === 'postgres') q = q.forUpdate();
    return (await q.executeTakeFirst()) !== undefined;
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

  async removeMount(id: string): Promise<boolean> {
    const r = await this.database.db.deleteFrom('mounts').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async allUuids(): Promise<string[]> {
    return (await this.database.db.selectFrom('volumes').select('uuid').execute()).map((r) => r.uuid);
  }
}
