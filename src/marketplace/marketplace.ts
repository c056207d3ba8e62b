import { StratusError } from '../domain/errors.js';
import { formatUtc } from '../domain/dates.js';
import { valueFieldPlan } from '../domain/entry-fields.js';
import type { EntryFields } from '../domain/entry-fields.js';
import { searchableText } from '../metadata/entry/entry.js';
import type { Entry } from '../metadata/entry/entry.js';
import type { TrustPolicy } from '../metadata/trust.js';
import { inlineVerifier } from './verifier.js';
import type { UploadVerifier } from './verifier.js';
import type { EntryStore, EntryRow, EntryViewer, NewEntryRow } from '../storage/entries.js';
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
  /**
   * This server's own signing identity (its certificate's e-mail and subject): only drafts
   * carry it, and a public upload that claims it is refused.
   */
  service?: ServiceSigner;
}

/** Who the service signs as. */
export interface ServiceEndorser {
  email: string;
  subject: string;
}

/** The service identity as the Marketplace uses it: who it is, and how it signs a draft. */
export interface ServiceSigner {
  endorser: ServiceEndorser;
  /** Signs an entry as the service (the endorsement refilled from its certificate). */
  sign(xml: Buffer | string): string;
}

/** The account a draft belongs to. */
export interface DraftOwner {
  /** The account's stable id (a later account of the same name does not inherit drafts). */
  id: string;
  username: string;
}

/** Who uploads publicly: an account (whose own drafts of the identifier the upload ends), or nobody. */
export type Uploader = { id: string } | undefined;

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
  private readonly service: ServiceSigner | undefined;

  constructor(private readonly store: EntryStore, options: MarketplaceOptions = {}) {
    const clock = options.clock ?? (() => new Date());
    this.clock = clock;
    this.fields = store.fields;
    this.service = options.service;
    this.verifier = options.verifier ?? inlineVerifier({
      now: clock,
      fields: this.fields,
      ...(options.trust ? { trust: options.trust } : {}),
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
      ...(options.maxCreatedAheadSeconds !== undefined ? { maxCreatedAheadSeconds: options.maxCreatedAheadSeconds } : {}),
    });
  }

  /**
   * Runs every upload check of §5.4 (plus the schema), then stores the entry as a public one.
   * An entry signed as this server's own identity is refused: only drafts carry it. When
   * `uploader` is an account, its drafts of the identifier are superseded by this entry.
   */
  async publish(body: Buffer | string, uploader?: Uploader): Promise<PublishResult> {
    const { entry, text } = await this.verifier.verify(body);
    if (this.isService(entry)) {
      throw new StratusError('TRUST_REJECTED', `the endorser ${entry.endorsement.email ?? ''} (${entry.endorsement.subject ?? ''}) is this server's own identity, which signs drafts only`, {
        hint: 'Sign the entry with your own certificate (stratus-generate-p12, then stratus-sign-metadata) and upload it again.',
      });
    }
    const key = keyOf(entry);
    const status = await this.store.insert(toRow(entry, key, text, formatUtc(this.clock()), this.fields), { retireDraftsOf: uploader?.id });
    return { key, entry, status, path: entryPath(key) };
  }

  /**
   * Stores a draft: an entry signed by this server's own identity (the Epilog's), seen by
   * `owner` and the admin only until the owner uploads it signed with their own certificate.
   * Internal: no HTTP route reaches it but the admin's.
   */
  async publishDraft(owner: DraftOwner, signedXml: Buffer | string): Promise<PublishResult> {
    if (!owner.id) throw new StratusError('USAGE', `a draft needs its owner's account id (account ${owner.username})`);
    const { entry, text } = await this.verifier.verify(signedXml);
    if (!this.isService(entry)) {
      throw new StratusError('TRUST_REJECTED', `a draft must be signed by this server's identity (${this.service?.endorser.email ?? 'none configured'}), not by ${entry.endorsement.email ?? '(no e-mail)'}`, {
        hint: 'Sign drafts with the service identity kept in the data dir (<data-dir>/service/).',
      });
    }
    const key = keyOf(entry);
    const row = { ...toRow(entry, key, text, formatUtc(this.clock()), this.fields), draft_owner: owner.id };
    const status = await this.store.insert(row);
    return { key, entry, status, path: entryPath(key) };
  }

  /** Signs `xml` (unsigned or signed) with the service identity, then stores it as `owner`'s draft. */
  async publishServiceDraft(owner: DraftOwner, xml: Buffer | string): Promise<PublishResult> {
    if (!this.service) throw new StratusError('FORBIDDEN', 'this Marketplace has no service identity, so it makes no drafts');
    let signed: string;
    try {
      signed = this.service.sign(xml);
    } catch (e) {
      if (e instanceof StratusError) throw new StratusError(e.code, `cannot sign the draft: ${e.message}`, { hint: e.hint });
      throw e;
    }
    return this.publishDraft(owner, signed);
  }

  /** Whether an entry is endorsed as this server: by its e-mail or by its certificate's subject. */
  private isService(entry: Entry): boolean {
    if (!this.service) return false;
    const { email, subject } = this.service.endorser;
    return entry.endorsement.email?.trim().toLowerCase() === email.toLowerCase() || entry.endorsement.subject === subject;
  }

  /** Stops the verifier's threads, if it has any. */
  async close(): Promise<void> {
    await this.verifier.close();
  }

  /** One stored entry by its full key, whatever its status. */
  async get(key: EntryKey, viewer?: EntryViewer): Promise<FoundEntry> {
    const row = await this.store.get(key.identifier, key.email, key.created, viewer);
    if (!row) throw new StratusError('ENTRY_NOT_FOUND', 'metadata entry not found.');
    return this.found(row);
  }

  /** The newest non-deprecated entry of an endorser carrying a dcterms:alternative tag. */
  async byTag(email: string, tag: string, viewer?: EntryViewer): Promise<FoundEntry> {
    const row = await this.store.latestByTag(email, tag.replace(/^["']|["']$/g, ''), viewer);
    if (!row) throw new StratusError('ENTRY_NOT_FOUND', 'metadata entry not found.');
    return this.found(row);
  }

  /** A page of a listing, as summaries and DataTables rows (the XML listing is listXml's). */
  async list(query: ListQuery, viewer?: EntryViewer): Promise<ListResult> {
    const page = await this.store.search({ ...query, now: formatUtc(this.clock()), viewer }, { withXml: false });
    const entries = page.rows.map((r) => toSummary(r, this.statusOf(r), this.fields));
    return { total: page.total, totalExact: page.totalExact, entries, rows: entries.map(toDataTablesRow) };
  }

  /**
   * A page of the XML listing: how many entries it holds, and their stored documents, read
   * from the store a few at a time as the answer is written.
   */
  async listXml(query: ListQuery, viewer?: EntryViewer): Promise<XmlListing> {
    const page = await this.store.search({ ...query, now: formatUtc(this.clock()), viewer }, { withXml: false });
    return { total: page.total, totalExact: page.totalExact, count: page.rows.length, documents: this.store.documents(page.rows.map((r) => r.id)) };
  }

  async endorsers(viewer?: EntryViewer): Promise<EndorserSummary[]> {
    return this.store.endorsers(viewer);
  }

  /** An endorser's entries endorsed within the last `days` days (default 30), all statuses. */
  async endorserEntries(email: string, days = 30, viewer?: EntryViewer): Promise<EntrySummary[]> {
    const since = formatUtc(new Date(this.clock().getTime() - days * 86_400_000));
    const page = await this.store.search({ email, status: 'all', now: formatUtc(this.clock()), limit: 10_000, viewer });
    return page.rows.filter((r) => r.created >= since).map((r) => toSummary(r, this.statusOf(r), this.fields));
  }

  async tags(email: string, viewer?: EntryViewer): Promise<string[]> {
    return this.store.tags(email, viewer);
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
