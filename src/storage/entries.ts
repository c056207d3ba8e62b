import { sql } from 'kysely';
import type { Insertable, Kysely, Selectable, SelectQueryBuilder, Transaction } from 'kysely';
import { StratusError } from '../domain/errors.js';
import type { ListQuery } from '../domain/wire.js';
import type { EntryFields } from '../domain/entry-fields.js';
import type { Database, EntriesTable, Tables } from './database.js';

export type EntryRow = Selectable<EntriesTable>;
export type NewEntryRow = Omit<Insertable<EntriesTable>, 'id' | 'is_latest'>;

export interface InsertOptions {
  /** A public entry its owner uploads ends that account's drafts of the identifier. */
  retireDraftsOf?: string | undefined;
}

/**
 * Who is looking: drafts are seen by their owner (by account id) and the admin only;
 * undefined is anonymous, who sees public entries only.
 */
export interface EntryViewer {
  id: string;
  admin: boolean;
}

/** A listing query plus the time status is judged against (yyyy-MM-ddTHH:mm:ssZ). */
export interface EntryQuery extends ListQuery {
  now: string;
  viewer?: EntryViewer | undefined;
}

/** The columns every entry row has besides those of its fields, but the stored XML. */
const KEY_COLUMNS = ['id', 'identifier', 'email', 'created', 'location', 'location_kind', 'subject', 'issuer', 'is_latest', 'draft_owner', 'uploaded_at', 'search'];

export interface EntryPage {
  /** Matches; a lower bound when totalExact is false. */
  total: number;
  totalExact: boolean;
  rows: EntryRow[];
}

/** SQL for metadata entries; the latest-entry rules themselves live in the marketplace. */
export class EntryStore {
  /** The entry schema the rows follow: the database's. */
  readonly fields: EntryFields;
  private readonly broadMatches: number;
  private readonly countCap: number;
  /** Every column but the stored XML. */
  private readonly summaryColumns: Array<keyof EntryRow>;

  /** `limits` exist for tests; the defaults suit catalogues of any size. */
  constructor(private readonly database: Database, limits: { broadMatches?: number; countCap?: number } = {}) {
    this.broadMatches = limits.broadMatches ?? BROAD_MATCHES;
    this.countCap = limits.countCap ?? COUNT_CAP;
    this.fields = database.entryFields;
    const columns = this.fields.flatMap((f) => (f.column ? [f.column] : []));
    this.summaryColumns = [...new Set([...KEY_COLUMNS, ...columns])] as Array<keyof EntryRow>;
  }

  /**
   * Stores a new entry and moves the "latest" flag, in one transaction. An entry older than
   * the latest of its (identifier, email) pair is refused; re-sending the very same document
   * is a no-op that reports 'exists'. A draft (row.draft_owner set) is latest within its
   * owner's drafts only, so a draft and anyone's public entries never move each other's flag.
   * `retireDraftsOf`: a public entry its owner uploads ends that account's drafts of the
   * identifier (they stay, superseded).
   */
  async insert(row: NewEntryRow, opts: InsertOptions = {}): Promise<'created' | 'exists'> {
    return this.database.db.transaction().execute((trx) => this.insertIn(trx, row, opts));
  }

  /**
   * insert() inside the caller's transaction, so another write (a pending upload's claim)
   * commits or rolls back with the entry.
   */
  async insertIn(trx: Transaction<Tables>, row: NewEntryRow, opts: InsertOptions = {}): Promise<'created' | 'exists'> {
    const owner = row.draft_owner ?? null;
    if (this.database.dialect === 'postgres') {
      await sql`SELECT pg_advisory_xact_lock(hashtext(${row.identifier + '/' + row.email}))`.execute(trx);
    }
    const judged = await judge(trx, row);
    if (judged.verdict === 'exists') return 'exists';
    if (judged.latest) await trx.updateTable('entries').set({ is_latest: 0 }).where('id', '=', judged.latest).execute();
    if (owner === null && opts.retireDraftsOf !== undefined) {
      await trx.updateTable('entries').set({ is_latest: 0 })
        .where('identifier', '=', row.identifier).where('draft_owner', '=', opts.retireDraftsOf).execute();
    }
    await trx.insertInto('entries').values({ ...row, draft_owner: owner, is_latest: 1 }).execute();
    return 'created';
  }

  /**
   * What insert() would do with `row` now, without storing it: 'exists' for the very same
   * document, 'new' when it would be stored; it throws what insert() would throw. An upload
   * held for confirmation is judged at once, so its endorser is not mailed about an entry
   * that could never be stored.
   */
  async admissible(row: NewEntryRow): Promise<'exists' | 'new'> {
    return (await judge(this.database.db, row)).verdict;
  }

  /**
   * Every endorser's latest public entries that are valid at `now` and not deprecated (the
   * reminders of §6.4), by e-mail then identifier.
   */
  async validEntriesByEndorser(now: string): Promise<Array<Pick<EntryRow, 'identifier' | 'email' | 'created' | 'valid' | 'title'>>> {
    return this.database.db.selectFrom('entries').select(['identifier', 'email', 'created', 'valid', 'title'])
      .where('is_latest', '=', 1).where('draft_owner', 'is', null).where('deprecated', 'is', null)
      .where('valid', 'is not', null).where('valid', '>', now)
      .orderBy('email').orderBy('identifier').execute();
  }

  /** One entry by its key, if `viewer` may see it. */
  async get(identifier: string, email: string, created: string, viewer?: EntryViewer): Promise<EntryRow | undefined> {
    return visibleTo(this.database.db.selectFrom('entries').selectAll(), viewer)
      .where('identifier', '=', identifier).where('email', '=', email).where('created', '=', created)
      .executeTakeFirst();
  }

  /**
   * One page of a listing and the number of matches. The page is found by id first and
   * read in full afterwards, so sorting never drags the stored XML along; `withXml: false`
   * leaves the XML out altogether (JSON and HTML listings do not need it).
   *
   * Free text on SQLite picks its plan from the trigram index's own match count: a selective
   * search is driven from that index and counted exactly; a broad one (a word in thousands of
   * entries) walks the newest entries first and counts up to COUNT_CAP, reporting
   * `totalExact: false` beyond it, so a common word costs no more than a rare one.
   */
  async search(q: EntryQuery, opts: { withXml?: boolean } = {}): Promise<EntryPage> {
    const fts = this.database.dialect === 'sqlite' ? ftsExpression(q.text) : undefined;
    const broad = fts !== undefined && (await this.ftsMatches(fts)) > this.broadMatches;
    // A broad search walks the newest entries and tests each one's text directly: cheaper
    // than materialising thousands of trigram matches first.
    const filtered = this.filter(q, broad ? undefined : fts, true);
    const sort = q.sort ?? 'created';
    const dir = q.direction ?? 'desc';
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 10_000);
    const offset = Math.max(q.offset ?? 0, 0);
    const orderedIds = (max: number, skip: number): Promise<number[]> => filtered.select('id')
      .orderBy(sort, dir).orderBy('id', dir).limit(max).offset(skip).execute().then((rs) => rs.map((r) => r.id));
    let total: number;
    let totalExact = true;
    let ids: number[];
    if (broad && offset + limit <= this.countCap) {
      // One walk down the newest entries yields both the page and the capped count.
      const head = await orderedIds(this.countCap + 1, 0);
      totalExact = head.length <= this.countCap;
      total = Math.min(head.length, this.countCap);
      ids = head.slice(offset, offset + limit);
    } else {
      const countRow = await filtered.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
      total = Number(countRow?.n ?? 0);
      ids = await orderedIds(limit, offset);
    }
    if (ids.length === 0) return { total, totalExact, rows: [] };
    const found = opts.withXml === false
      ? (await this.database.db.selectFrom('entries').select(this.summaryColumns).where('id', 'in', ids).execute()).map((r) => ({ ...r, xml: '' }))
      : await this.database.db.selectFrom('entries').selectAll().where('id', 'in', ids).execute();
    const byId = new Map(found.map((r) => [r.id, r]));
    return { total, totalExact, rows: ids.map((id) => byId.get(id)).filter((r): r is EntryRow => r !== undefined) };
  }

  /**
   * The stored documents of `ids`, in that order, read `batch` rows at a time: a listing of
   * large entries is never all in memory at once (530 entries of 1 MiB made one string too
   * long for V8, and every listing answered 500).
   */
  async *documents(ids: readonly number[], batch = 16): AsyncGenerator<string> {
    for (let i = 0; i < ids.length; i += batch) {
      const slice = ids.slice(i, i + batch);
      const rows = await this.database.db.selectFrom('entries').select(['id', 'xml']).where('id', 'in', slice).execute();
      const byId = new Map(rows.map((r) => [r.id, r.xml]));
      for (const id of slice) {
        const xml = byId.get(id);
        if (xml !== undefined) yield xml;
      }
    }
  }

  private async ftsMatches(expression: string): Promise<number> {
    const r = await sql<{ n: number }>`SELECT count(*) AS n FROM entries_fts WHERE entries_fts MATCH ${expression}`.execute(this.database.db);
    return Number(r.rows[0]?.n ?? 0);
  }

  /** Distinct endorsers with their certificate names, of the entries `viewer` may see. */
  async endorsers(viewer?: EntryViewer): Promise<Array<{ email: string; subject: string | null; issuer: string | null }>> {
    return visibleTo(this.database.db.selectFrom('entries'), viewer).select(['email', 'subject', 'issuer']).distinct().orderBy('email').execute();
  }

  /** The distinct dcterms:alternative tags an endorser has used, in the entries `viewer` may see. */
  async tags(email: string, viewer?: EntryViewer): Promise<string[]> {
    const rows = await visibleTo(this.database.db.selectFrom('entries'), viewer).select('alternative').distinct()
      .where('email', '=', email).where('alternative', 'is not', null).where('alternative', '!=', '').orderBy('alternative').execute();
    return rows.map((r) => r.alternative as string);
  }

  /** The newest non-deprecated entry of `email` tagged `tag`, whatever its validity. */
  async latestByTag(email: string, tag: string, viewer?: EntryViewer): Promise<EntryRow | undefined> {
    return visibleTo(this.database.db.selectFrom('entries').selectAll(), viewer)
      .where('email', '=', email).where('alternative', '=', tag).where('is_latest', '=', 1).where('deprecated', 'is', null)
      .orderBy('created', 'desc').limit(1).executeTakeFirst();
  }

  async count(): Promise<number> {
    const r = await this.database.db.selectFrom('entries').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  private filter(q: EntryQuery, fts: string | undefined, driveFromText: boolean): SelectQueryBuilder<Tables, 'entries', object> {
    let b = visibleTo(this.database.db.selectFrom('entries'), q.viewer);
    if (q.identifier) b = b.where('identifier', '=', q.identifier);
    if (q.email) b = b.where('email', '=', q.email);
    if (q.created) b = b.where('created', '=', q.created);
    // The unary plus keeps SQLite from driving the query from the is_latest index when the
    // trigram index is the selective one.
    else if (fts && driveFromText) b = b.where(sql`+is_latest`, '=', 1);
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
    if (fts) b = b.where('id', 'in', sql<number>`(SELECT rowid FROM entries_fts WHERE entries_fts MATCH ${fts})`);
    for (const term of textTerms(q.text)) {
      // Terms the trigram index cannot answer (under three characters), and every term on
      // PostgreSQL, where pg_trgm serves LIKE from its GIN index.
      if (fts && [...term].length >= 3) continue;
      const like = '%' + term.replace(/[\\%_]/g, (c) => '\\' + c) + '%';
      b = b.where(sql`search`, 'like', sql`${like} ESCAPE '\\'`);
    }
    return b;
  }
}

/**
 * Only the entries `viewer` may see: the admin every one, an account the public ones and its
 * own drafts, anonymous the public ones.
 */
function visibleTo<Q extends SelectQueryBuilder<Tables, 'entries', O>, O>(b: Q, viewer: EntryViewer | undefined): Q {
  if (viewer?.admin) return b;
  if (viewer) return b.where((eb) => eb.or([eb('draft_owner', 'is', null), eb('draft_owner', '=', viewer.id)])) as Q;
  return b.where('draft_owner', 'is', null) as Q;
}

/**
 * The latest-entry rules for a new row: the very same document again is 'exists'; another
 * document under the same key, or one older than the latest of its chain (a draft's chain is
 * its owner's), is refused. `latest` is the row whose flag the new one takes.
 */
async function judge(db: Kysely<Tables> | Transaction<Tables>, row: NewEntryRow): Promise<{ verdict: 'exists' | 'new'; latest?: number }> {
  const owner = row.draft_owner ?? null;
  // One query finds both the current latest entry and an entry with the very same key.
  const found = await db.selectFrom('entries').select(['id', 'created', 'xml', 'is_latest', 'draft_owner'])
    .where('identifier', '=', row.identifier).where('email', '=', row.email)
    .where((eb) => eb.or([eb('is_latest', '=', 1), eb('created', '=', row.created)]))
    .execute();
  const latest = found.find((r) => r.is_latest === 1 && r.draft_owner === owner);
  const same = found.find((r) => r.created === row.created);
  if (same) {
    if (same.xml === row.xml && same.draft_owner === owner) return { verdict: 'exists' };
    throw new StratusError('METADATA_INVALID', `invalid metadata: an entry for ${row.identifier} by ${row.email} endorsed at ${row.created} already exists`, {
      hint: 'Entries are never replaced; re-sign the file to make a newer entry.',
    });
  }
  if (latest && row.created < latest.created) {
    throw new StratusError('ENTRY_OLDER_THAN_LATEST', 'invalid metadata: older than latest entry');
  }
  return latest ? { verdict: 'new', latest: latest.id } : { verdict: 'new' };
}

/** A free-text search that matches more entries than this is "broad" (see search()). */
const BROAD_MATCHES = 5000;
/** Broad searches count matches up to this many. */
const COUNT_CAP = 1000;

function textTerms(text: string | undefined): string[] {
  return (text ?? '').toLowerCase().split(/\s+/).filter(Boolean);
}

/** An FTS5 query requiring every term of three characters or more, or undefined if none. */
function ftsExpression(text: string | undefined): string | undefined {
  const terms = textTerms(text).filter((t) => [...t].length >= 3);
  return terms.length === 0 ? undefined : terms.map((t) => '"' + t.replace(/"/g, '""') + '"').join(' AND ');
}
