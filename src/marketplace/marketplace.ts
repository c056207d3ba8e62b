import { StratusError } from '../domain/errors.js';
import { formatUtc } from '../domain/dates.js';
import { valueFieldPlan } from '../domain/entry-fields.js';
import type { EntryFields } from '../domain/entry-fields.js';
import { searchableText } from '../metadata/entry/entry.js';
import type { Entry } from '../metadata/entry/entry.js';
import type { TrustPolicy } from '../metadata/trust.js';
import { inlineVerifier } from './verifier.js';
import type { UploadVerifier } from './verifier.js';
import type { EntryStore, EntryRow, NewEntryRow } from '../storage/entries.js';
import type { EndorserSummary, EntryDetail, EntryStatusName, EntrySummary, ListQuery } from '../domain/wire.js';
import { toDataTablesRow, toDetail, toSummary } from './views.js';

/** The key of one stored entry, and its path under /metadata. */
export interface EntryKey {
  identifier: string;
  email: string;
  created: string;
}

export function entryPath(k: EntryKey): string {
  return `${k.identifier}/${k.email}/${k.created}`;
}

export interface MarketplaceOptions {
  /** Runs the upload checks; by default on the calling thread with `trust` and `maxBytes`. */
  verifier?: UploadVerifier;
  trust?: TrustPolicy;
  /** Largest metadata document accepted, in bytes. */
  maxBytes?: number;
  /** How far ahead of the clock an endorsement date may be, in seconds (default 300). */
  maxCreatedAheadSeconds?: number;
  clock?: () => Date;
}

export interface PublishResult {
  key: EntryKey;
  /** <identifier>/<email>/<created>, the entry's path under /metadata. */
  path: string;
  entry: Entry;
  /** 'exists' when the very same signed document was already stored. */
  status: 'created' | 'exists';
}

/**
 * The Marketplace service: validates and stores signed entries under the latest-entry rules
 * of reference §4.7, and answers listings. Nothing is ever deleted; deprecating is uploading
 * a newer entry that carries slterms:deprecated.
 */
export class Marketplace {
  /** The entry schema, the store's. */
  readonly fields: EntryFields;
  private readonly clock: () => Date;
  private readonly verifier: UploadVerifier;

  constructor(private readonly store: EntryStore, options: MarketplaceOptions = {}) {
    const clock = options.clock ?? (() => new Date());
    this.clock = clock;
    this.fields = store.fields;
    this.verifier = options.verifier ?? inlineVerifier({
      now: clock,
      fields: this.fields,
      ...(options.trust ? { trust: options.trust } : {}),
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
      ...(options.maxCreatedAheadSeconds !== undefined ? { maxCreatedAheadSeconds: options.maxCreatedAheadSeconds } : {}),
    });
  }

  /** Runs every upload check of §5.4 (plus the schema), then stores the entry. */
  async publish(body: Buffer | string): Promise<PublishResult> {
    const { entry, text } = await this.verifier.verify(body);
    const key = keyOf(entry);
    const status = await this.store.insert(toRow(entry, key, text, formatUtc(this.clock()), this.fields));
    return { key, entry, status, path: entryPath(key) };
  }

  /** Stops the verifier's threads, if it has any. */
  async close(): Promise<void> {
    await this.verifier.close();
  }

  /** One stored entry by its full key, whatever its status. */
  async get(key: EntryKey): Promise<FoundEntry> {
    const row = await this.store.get(key.identifier, key.email, key.created);
    if (!row) throw new StratusError('ENTRY_NOT_FOUND', 'metadata entry not found.');
    return this.found(row);
  }

  /** The newest non-deprecated entry of an endorser carrying a dcterms:alternative tag. */
  async byTag(email: string, tag: string): Promise<FoundEntry> {
    const row = await this.store.latestByTag(email, tag.replace(/^["']|["']$/g, ''));
    if (!row) throw new StratusError('ENTRY_NOT_FOUND', 'metadata entry not found.');
    return this.found(row);
  }

  /** A page of a listing, as summaries and DataTables rows (the XML listing is listXml's). */
  async list(query: ListQuery): Promise<ListResult> {
    const page = await this.store.search({ ...query, now: formatUtc(this.clock()) }, { withXml: false });
    const entries = page.rows.map((r) => toSummary(r, this.statusOf(r), this.fields));
    return { total: page.total, totalExact: page.totalExact, entries, rows: entries.map(toDataTablesRow) };
  }

  /**
   * A page of the XML listing: how many entries it holds, and their stored documents, read
   * from the store a few at a time as the answer is written.
   */
  async listXml(query: ListQuery): Promise<XmlListing> {
    const page = await this.store.search({ ...query, now: formatUtc(this.clock()) }, { withXml: false });
    return { total: page.total, totalExact: page.totalExact, count: page.rows.length, documents: this.store.documents(page.rows.map((r) => r.id)) };
  }

  async endorsers(): Promise<EndorserSummary[]> {
    return this.store.endorsers();
  }

  /** An endorser's entries endorsed within the last `days` days (default 30), all statuses. */
  async endorserEntries(email: string, days = 30): Promise<EntrySummary[]> {
    const since = formatUtc(new Date(this.clock().getTime() - days * 86_400_000));
    const page = await this.store.search({ email, status: 'all', now: formatUtc(this.clock()), limit: 10_000 });
    return page.rows.filter((r) => r.created >= since).map((r) => toSummary(r, this.statusOf(r), this.fields));
  }

  async tags(email: string): Promise<string[]> {
    return this.store.tags(email);
  }

  /** Status of a row now: StratusLab's three states plus "superseded" for older entries. */
  statusOf(row: EntryRow): EntryStatusName {
    if (!row.is_latest) return 'superseded';
    if (row.deprecated !== null) return 'deprecated';
    if (row.valid === null) return 'no-validity';
    return row.valid > formatUtc(this.clock()) ? 'valid' : 'expired';
  }

  private found(row: EntryRow): FoundEntry {
    return { xml: row.xml, detail: () => toDetail(row, this.statusOf(row), this.fields) };
  }
}

/** A stored entry: its signed XML, and (computed on demand) the full view with the signature verdict. */
export interface FoundEntry {
  xml: string;
  detail(): EntryDetail;
}

export interface ListResult {
  /** Matches; a lower bound when totalExact is false (very broad free-text searches). */
  total: number;
  totalExact: boolean;
  entries: EntrySummary[];
  /** DataTables rows, for StratusLab's JSON listing. */
  rows: string[][];
}

export interface XmlListing {
  total: number;
  totalExact: boolean;
  /** Entries in this page. */
  count: number;
  documents: AsyncIterable<string>;
}

function keyOf(entry: Entry): EntryKey {
  const { email, created } = entry.endorsement;
  if (!email || !created) {
    throw new StratusError('METADATA_INVALID', 'invalid metadata: the endorsement has no e-mail or creation date', {
      hint: 'Sign the entry with stratus-sign-metadata, which fills the endorsement.',
    });
  }
  return { identifier: entry.identifier, email, created };
}

/** `pdisk` for entries kept in a site's disk service; `web` for http(s)/ftp; `none` without location. */
export function locationKind(locations: string[]): 'pdisk' | 'web' | 'none' {
  if (locations.length === 0) return 'none';
  return locations.some((l) => /^pdisk/.test(l)) ? 'pdisk' : 'web';
}

/** The row of an entry: its key and provenance, and a column per field that has one. */
function toRow(e: Entry, key: EntryKey, xml: string, now: string, fields: EntryFields): NewEntryRow {
  const values = e as unknown as Record<string, unknown>;
  const row: Record<string, unknown> = { identifier: key.identifier, email: key.email, created: key.created };
  for (const f of valueFieldPlan(fields).listed) {
    const v = values[f.name];
    // An empty date is no date: an entry with an empty dcterms:valid has no validity.
    row[f.column as string] = f.many ? JSON.stringify(v ?? []) : f.date ? v || null : v ?? null;
  }
  row.location = e.locations[0] ?? null;
  row.location_kind = locationKind(e.locations);
  row.subject = e.endorsement.subject ?? null;
  row.issuer = e.endorsement.issuers[0] ?? null;
  row.uploaded_at = now;
  row.search = searchableText(e, fields);
  row.xml = xml;
  return row as unknown as NewEntryRow;
}
