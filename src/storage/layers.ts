import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import { StratusError } from '../domain/errors.js';
import type { Database, LayersTable } from './database.js';

export type LayerRow = Selectable<LayersTable>;

/**
 * The rows of the instance layer cache (its files are volumes/layers.ts's business). Every
 * change that decides on an owner's rows runs in one transaction under that owner's lock, so
 * two saves of one account cannot both squeeze under its cache size.
 */
export class LayerStore {
  constructor(private readonly database: Database) {}

  get(ownerId: string, key: string): Promise<LayerRow | undefined> {
    return this.database.db.selectFrom('layers').selectAll().where('owner_id', '=', ownerId).where('key', '=', key).executeTakeFirst();
  }

  /** An owner's layers, least recently used first. */
  ofOwner(ownerId: string): Promise<LayerRow[]> {
    return this.database.db.selectFrom('layers').selectAll().where('owner_id', '=', ownerId).orderBy('used').orderBy('id').execute();
  }

  all(): Promise<LayerRow[]> {
    return this.database.db.selectFrom('layers').selectAll().orderBy('id').execute();
  }

  /**
   * Layers no one can run any more: their account was removed, or their origin volume was
   * deleted (a run of the image would boot another origin, which the layer's delta is not over).
   */
  stale(): Promise<LayerRow[]> {
    return this.database.db.selectFrom('layers').selectAll()
      .where((eb) => eb.or([
        eb.not(eb.exists(eb.selectFrom('users').select('users.id').whereRef('users.id', '=', 'layers.owner_id'))),
        eb.not(eb.exists(eb.selectFrom('volumes').select('volumes.uuid').whereRef('volumes.uuid', '=', 'layers.origin').where('volumes.deleted', 'is', null))),
      ]))
      .orderBy('id').execute();
  }

  /**
   * Makes `row` its owner's layer of its key, in one transaction: the owner's previous layer of
   * that key goes, then the owner's least recently used layers that `inUse` does not name,
   * until the owner's layers take at most `capBytes` with the new one. Throws LAYER_CACHE_FULL
   * (and changes nothing) when they cannot. Returns the rows removed: their files are the
   * caller's to delete, once this has committed.
   */
  async put(row: LayerRow, capBytes: number, inUse: ReadonlySet<string>): Promise<LayerRow[]> {
    return this.database.db.transaction().execute(async (trx) => {
      if (this.database.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(hashtext(${'layers/' + row.owner_id}))`.execute(trx);
      const mine = await trx.selectFrom('layers').selectAll().where('owner_id', '=', row.owner_id).orderBy('used').orderBy('id').execute();
      const removed = mine.filter((r) => r.key === row.key);
      let total = mine.filter((r) => r.key !== row.key).reduce((n, r) => n + Number(r.bytes), 0) + Number(row.bytes);
      for (const r of mine) {
        if (total <= capBytes) break;
        if (r.key === row.key || inUse.has(r.id)) continue;
        removed.push(r);
        total -= Number(r.bytes);
      }
      if (total > capBytes) {
        const mib = (n: number): string => `${Math.ceil(n / 1024 / 1024)} MiB`;
        const why = Number(row.bytes) > capBytes ? 'it is larger than the whole cache' : `the layers live instances were started from take ${mib(total - Number(row.bytes))}`;
        throw new StratusError('LAYER_CACHE_FULL', `the layer of ${mib(Number(row.bytes))} does not fit in ${row.owner}'s layer cache of ${mib(capBytes)} ([instances] layer_cache_mib): ${why}`);
      }
      for (const r of removed) await trx.deleteFrom('layers').where('id', '=', r.id).execute();
      await trx.insertInto('layers').values(row).execute();
      return removed;
    });
  }

  /** Removes a row; returns it, or undefined when it was gone. */
  async remove(id: string): Promise<LayerRow | undefined> {
    return this.database.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('layers').selectAll().where('id', '=', id).executeTakeFirst();
      if (row) await trx.deleteFrom('layers').where('id', '=', id).execute();
      return row;
    });
  }

  /** Records a use (a run from the layer): it is then the owner's most recently used. */
  async touch(id: string, when: string): Promise<void> {
    await this.database.db.updateTable('layers').set({ used: when }).where('id', '=', id).execute();
  }
}
