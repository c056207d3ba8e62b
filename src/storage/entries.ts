import { sql } from 'kysely';
import type { Insertable, Selectable, SelectQueryBuilder } from 'kysely';
import { StratusError } from '../domain/errors.js';
import type { ListQuery } from '../domain/wire.js';
import type { Database, EntriesTable, Tables } from './database.js';

export type EntryRow = Selectable<EntriesTable>;
export type NewEntryRow = Omit<Insertable<EntriesTable>, 'id' | 'is_latest'>;

/** A listing query plus the time status is judged against (yyyy-MM-ddTHH:mm:ssZ). */
export interface EntryQuery extends ListQuery {
  now: string;
}

export interface EntryPage {
  total: number;
  rows: EntryRow[];
}

/** SQL for metadata entries; the latest-entry rules themselves live in the marketplace. */
export class EntryStore {
  constructor(private readonly database: Database) {}

  /**
   * Stores a new entry and moves the "latest" flag, in one transaction. An entry older than
   * the latest of its (identifier, email) pair is refused; re-sending the very same document
   * is a no-op that reports 'exists'.
   */
  async insert(row: NewEntryRow): Promise<'created' | 'exists'> {
    return this.database.db.transaction().execute(async (trx) => {
      if (this.database.dialect === 'postgres') {
        await sql`SELECT pg_advisory_xact_lock(hashtext(${row.identifier + '/' + row.email}))`.execute(trx);
      }
      // One query finds both the current latest entry and an entry with the very same key.
      const found = await trx.selectFrom('entries').select(['id', 'created', 'xml', 'is_latest'])
        .where('identifier', '=', row.identifier).where('email', '=', row.email)
        .where((eb) => eb.or([eb('is_latest', '=', 1), eb('created', '=', row.created)]))
        .execute();
      const latest = found.find((r) => r.is_latest === 1);
      const same = found.find((r) => r.created === row.created);
      if (same) {
        if (same.xml === row.xml) return 'exists';
        throw new StratusError('METADATA_INVALID', `invalid metadata: an entry for ${row.identifier} by ${row.email} endorsed at ${row.created} already exists`, {
          hint: 'Entries are never replaced; re-sign the file to make a newer entry.',
        });
      }
      if (latest && row.created < latest.created) {
        throw new StratusError('ENTRY_OLDER_THAN_LATEST', 'invalid metadata: older than latest entry');
      }
      if (latest) await trx.updateTable('entries').set({ is_latest: 0 }).where('id', '=', latest.id).execute();
      await trx.insertInto('entries').values({ ...row, is_latest: 1 }).execute();
      return 'created';
    });
  }

  async get(identifier: string, email: string, created: string): Promise<EntryRow | undefined> {
    return this.database.db.selectFrom('entries').selectAll()
      .where('identifier', '=', identifier).where('email', '=', email).where('created', '=', created)
      .executeTakeFirst();
  }

  async search(q: EntryQuery): Promise<EntryPage> {
    const filtered = this.filter(q);
    const countRow = await filtered.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    const sort = q.sort ?? 'created';
    const dir = q.direction ?? 'desc';
    const rows = await filtered.selectAll()
      .orderBy(sort, dir).orderBy('id', dir)
      .limit(Math.min(Math.max(q.limit ?? 100, 1), 10_000)).offset(Math.max(q.offset ?? 0, 0))
      .execute();
    return { total: Number(countRow?.n ?? 0), rows };
  }

  /** Distinct endorsers with their certificate names. */
  async endorsers(): Promise<Array<{ email: string; subject: string | null; issuer: string | null }>> {
    return this.database.db.selectFrom('entries').select(['email', 'subject', 'issuer']).distinct().orderBy('email').execute();
  }

  /** The distinct dcterms:alternative tags an endorser has used. */
  async tags(email: string): Promise<string[]> {
    const rows = await this.database.db.selectFrom('entries').select('alternative').distinct()
      .where('email', '=', email).where('alternative', 'is not', null).where('alternative', '!=', '').orderBy('alternative').execute();
    return rows.map((r) => r.alternative as string);
  }

  /** The newest non-deprecated entry of `email` tagged `tag`, whatever its validity. */
  async latestByTag(email: string, tag: string): Promise<EntryRow | undefined> {
    return this.database.db.selectFrom('entries').selectAll()
      .where('email', '=', email).where('alternative', '=', tag).where('is_latest', '=', 1).where('deprecated', 'is', null)
      .orderBy('created', 'desc').limit(1).executeTakeFirst();
  }

  async count(): Promise<number> {
    const r = await this.database.db.selectFrom('entries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  private filter(q: EntryQuery): SelectQueryBuilder<Tables, 'entries', object> {
    let b = this.database.db.selectFrom('entries');
    if (q.identifier) b = b.where('identifier', '=', q.identifier);
    if (q.email) b = b.where('email', '=', q.email);
    if (q.created) b = b.where('created', '=', q.created);
    else b = b.where('is_latest', '=', 1);
    switch (q.status ?? 'valid') {
      case 'valid': b = b.where('deprecated', 'is', null).where('valid', 'is not', null).where('valid', '>', q.now); break;
      case 'expired': b = b.where('deprecated', 'is', null).where('valid', 'is not', null).where('valid', '<=', q.now); break;
      case 'deprecated': b = b.where('deprecated', 'is not', null); break;
      default: break;
    }
    if (q.location === 'pdisk') b = b.where('location_kind', '=', 'pdisk');
    else if (q.location === 'web') b = b.where('location_kind', 'in', ['web', 'none']);
    if (q.os) b = b.where(sql`lower(os)`, '=', q.os.toLowerCase());
    if (q.osVersion) b = b.where('os_version', '=', q.osVersion);
    if (q.osArch) b = b.where('os_arch', '=', q.osArch);
    if (q.tag) b = b.where('alternative', '=', q.tag);
    for (const term of (q.text ?? '').toLowerCase().split(/\s+/).filter(Boolean)) b = this.textTerm(b, term);
    return b;
  }

  private textTerm(b: SelectQueryBuilder<Tables, 'entries', object>, term: string): SelectQueryBuilder<Tables, 'entries', object> {
    const like = '%' + term.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
    if (this.database.dialect === 'sqlite' && [...term].length >= 3) {
      // The trigram index matches substrings of three characters or more.
      const phrase = '"' + term.replace(/"/g, '""') + '"';
      return b.where('id', 'in', sql<number>`(SELECT rowid FROM entries_fts WHERE entries_fts MATCH ${phrase})`);
    }
    return b.where(sql`search`, 'like', sql`${like} ESCAPE '\\'`);
  }
}
