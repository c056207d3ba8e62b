import type { Insertable, Selectable } from 'kysely';
import type { Database, PendingUploadsTable } from './database.js';
import type { EntryStore, InsertOptions, NewEntryRow } from './entries.js';

export type PendingUploadRow = Selectable<PendingUploadsTable>;
export type NewPendingUploadRow = Insertable<PendingUploadsTable>;

/**
 * Uploads waiting for their endorser's confirmation. Every read and write names the time it is
 * judged at: a row whose `expires` has passed is gone for every purpose, whether or not the
 * purge has removed it yet. Times are ISO 8601 UTC with milliseconds, so they compare as text.
 */
export class PendingUploadStore {
  constructor(private readonly database: Database, private readonly entries: EntryStore) {}

  /**
   * Keeps `row`. An upload of the same entry key still pending is replaced, in the same
   * transaction: its links stop working, so one entry has one live set of links.
   */
  async hold(row: NewPendingUploadRow): Promise<void> {
    await this.database.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('pending_uploads')
        .where('identifier', '=', row.identifier).where('email', '=', row.email).where('created', '=', row.created).execute();
      await trx.insertInto('pending_uploads').values(row).execute();
    });
  }

  /** The pending upload under `tokenHash`, unless it has expired at `now`. */
  async find(tokenHash: string, now: string): Promise<PendingUploadRow | undefined> {
    return this.database.db.selectFrom('pending_uploads').selectAll()
      .where('token_hash', '=', tokenHash).where('expires', '>', now).executeTakeFirst();
  }

  /** Removes the pending upload under `tokenHash`; false when there was none (or it had expired). */
  async remove(tokenHash: string, now: string): Promise<boolean> {
    const r = await this.database.db.deleteFrom('pending_uploads')
      .where('token_hash', '=', tokenHash).where('expires', '>', now).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /**
   * Confirms: removes the pending upload and stores `entry` in one transaction, so of two
   * confirmations racing one stores the entry and the other finds nothing (undefined), and an
   * entry the store refuses leaves the pending upload as it was.
   */
  async commit(tokenHash: string, now: string, entry: NewEntryRow, opts: InsertOptions = {}): Promise<'created' | 'exists' | undefined> {
    return this.database.db.transaction().execute(async (trx) => {
      const claimed = await trx.deleteFrom('pending_uploads')
        .where('token_hash', '=', tokenHash).where('expires', '>', now).executeTakeFirst();
      if (Number(claimed.numDeletedRows) === 0) return undefined;
      return this.entries.insertIn(trx, entry, opts);
    });
  }

  /** Removes every pending upload expired at `now`; how many went. */
  async purgeExpired(now: string): Promise<number> {
    const r = await this.database.db.deleteFrom('pending_uploads').where('expires', '<=', now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** Pending uploads not expired at `now`. */
  async count(now: string): Promise<number> {
    const r = await this.database.db.selectFrom('pending_uploads').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('expires', '>', now).executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}
