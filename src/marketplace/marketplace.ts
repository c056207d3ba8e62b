import { StratusError } from '../domain/errors.js';
import { formatUtc } from '../domain/dates.js';
import type { EntryFields } from '../domain/entry-fields.js';
import type { Entry } from '../metadata/entry/entry.js';
import type { TrustPolicy } from '../metadata/trust.js';
import { inlineVerifier } from './verifier.js';
import type { UploadVerifier } from './verifier.js';
import type { EntryStore, EntryRow, EntryViewer } from '../storage/entries.js';
import type { PendingUploadStore } from '../storage/pending-uploads.js';
import { entryPath, keyOf, toRow } from './rows.js';
import type { EntryKey } from './rows.js';
import { UploadConfirmations } from './confirmations.js';
import type { AbuseReport, ConfirmationOptions, PendingView, UploadOrigin } from './confirmations.js';
import type { EndorserSummary, EntryDetail, EntryStatusName, EntrySummary, ListQuery } from '../domain/wire.js';
import { toDataTablesRow, toDetail, toSummary } from './views.js';

export { entryPath, locationKind } from './rows.js';
export type { EntryKey } from './rows.js';
export type { AbuseReport, ConfirmationNotice, ConfirmationOptions, PendingView, UploadOrigin } from './confirmations.js';

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
  /** Where uploads waiting for confirmation are kept; without it every confirmation link is unknown. */
  pending?: PendingUploadStore;
  /**
   * `[marketplace] validate_email`: an upload whose endorser the trust policy does not trust
   * (every upload, without a policy) waits for its endorser's confirmation by e-mail instead
   * of being stored or refused. Needs `pending`.
   */
  confirmation?: ConfirmationOptions;
  /** Tells the administrators of an upload its endorser reported as abuse ([marketplace] admin_email). */
  reportAbuse?: (report: AbuseReport) => Promise<void>;
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

/** An upload held until its endorser confirms it: nothing is stored yet; a mail went to `to`. */
export interface PendingResult {
  key: EntryKey;
  path: string;
  entry: Entry;
  status: 'pending';
  /** The signing certificate's e-mail address, which the links went to. */
  to: string;
  /** When the links stop working (ISO 8601 UTC). */
  expires: string;
}

export type UploadResult = PublishResult | PendingResult;

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
  private readonly confirmations: UploadConfirmations | undefined;
  private readonly reportAbuseTo: ((report: AbuseReport) => Promise<void>) | undefined;

  constructor(private readonly store: EntryStore, options: MarketplaceOptions = {}) {
    const clock = options.clock ?? (() => new Date());
    this.clock = clock;
    this.fields = store.fields;
    this.service = options.service;
    if (options.confirmation && !options.pending) throw new StratusError('INTERNAL', 'confirming uploads by e-mail needs a store for pending uploads');
    this.confirmations = options.pending ? new UploadConfirmations(options.pending, store, clock, options.confirmation) : undefined;
    this.reportAbuseTo = options.reportAbuse;
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
   * With confirmation by e-mail on, an endorser the trust policy does not trust gets a mail
   * and the upload waits ('pending'); without it, the policy's refusal is TRUST_REJECTED.
   * `origin` gives the base URL of the mailed links (and the client, for an abuse report).
   */
  async publish(body: Buffer | string, uploader?: Uploader, origin?: UploadOrigin): Promise<UploadResult> {
    const verified = await this.verifier.verify(body);
    const { entry, text, trust } = verified;
    if (this.isService(entry)) {
      throw new StratusError('TRUST_REJECTED', `the endorser ${entry.endorsement.email ?? ''} (${entry.endorsement.subject ?? ''}) is this server's own identity, which signs drafts only`, {
        hint: 'Sign the entry with your own certificate (stratus-generate-p12, then stratus-sign-metadata) and upload it again.',
      });
    }
    const key = keyOf(entry);
    const row = toRow(entry, key, text, formatUtc(this.clock()), this.fields);
    if (!trust.trusted && this.confirmations?.holding) {
      if (!origin) throw new StratusError('INTERNAL', 'an upload held for confirmation needs the base URL of its links');
      const held = await this.confirmations.hold(verified, key, row, uploader?.id, origin);
      if (held.status === 'exists') return { key, entry, status: 'exists', path: entryPath(key) };
      return { key, entry, path: entryPath(key), ...held };
    }
    if (trust.reason) throw new StratusError('TRUST_REJECTED', trust.reason);
    const status = await this.store.insert(row, { retireDraftsOf: uploader?.id });
    return { key, entry, status, path: entryPath(key) };
  }

  /** The upload waiting for confirmation under `token` (the links' page); PENDING_UPLOAD_NOT_FOUND when none. */
  async pendingUpload(token: string): Promise<PendingView> {
    return this.requireConfirmations().view(token);
  }

  /**
   * Stores the upload waiting under `token` as publish() would have: checked again, then
   * inserted under the same rules, in the transaction that ends the pending upload, so a
   * link works once.
   */
  async confirmUpload(token: string): Promise<PublishResult> {
    const confirmations = this.requireConfirmations();
    const pending = await confirmations.find(token);
    const { entry, text } = await this.verifier.verify(pending.xml);
    const key = keyOf(entry);
    const status = await confirmations.commit(token, toRow(entry, key, text, formatUtc(this.clock()), this.fields), pending.uploader_id);
    return { key, entry, status, path: entryPath(key) };
  }

  /** Drops the upload waiting under `token`. */
  async abortUpload(token: string): Promise<PendingView> {
    return this.requireConfirmations().abort(token);
  }

  /** Drops the upload waiting under `token` and tells the administrators. */
  async reportUpload(token: string): Promise<PendingView> {
    return this.requireConfirmations().reportAbuse(token, this.reportAbuseTo ?? (async () => undefined));
  }

  /** Removes the expired uploads waiting for confirmation; how many went. */
  async purgePendingUploads(): Promise<number> {
    return this.confirmations ? this.confirmations.purgeExpired() : 0;
  }

  /** Each endorser's latest public entries valid now and not deprecated, for the reminders of §6.4. */
  async validEntriesByEndorser(): Promise<Array<{ email: string; entries: Array<{ identifier: string; created: string; valid?: string; title?: string }> }>> {
    const rows = await this.store.validEntriesByEndorser(formatUtc(this.clock()));
    const byEmail = new Map<string, Array<{ identifier: string; created: string; valid?: string; title?: string }>>();
    for (const r of rows) {
      const list = byEmail.get(r.email) ?? [];
      list.push({ identifier: r.identifier, created: r.created, ...(r.valid ? { valid: r.valid } : {}), ...(r.title ? { title: r.title } : {}) });
      byEmail.set(r.email, list);
    }
    return [...byEmail].map(([email, entries]) => ({ email, entries }));
  }

  private requireConfirmations(): UploadConfirmations {
    if (!this.confirmations) {
      throw new StratusError('PENDING_UPLOAD_NOT_FOUND', 'no upload waits for confirmation on this server');
    }
    return this.confirmations;
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
