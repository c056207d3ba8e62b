import { createHash, randomBytes } from 'node:crypto';
import { StratusError } from '../domain/errors.js';
import { isPlainAddress } from '../domain/email.js';
import type { PendingUploadView } from '../domain/wire.js';
import type { AbuseReport, UploadConfirmation } from '../domain/upload-confirmation.js';
import type { EntryStore, NewEntryRow } from '../storage/entries.js';
import type { PendingUploadRow, PendingUploadStore } from '../storage/pending-uploads.js';
import type { VerifiedUpload } from './verifier.js';
import type { EntryKey } from './rows.js';

export type { AbuseReport };
/** What the endorser of a held upload is told; main/ writes it as a mail (mail/confirmation.ts). */
export type ConfirmationNotice = UploadConfirmation;

/** `[marketplace] validate_email`: uploads by endorsers outside the trust policy wait for their endorser's confirmation. */
export interface ConfirmationOptions {
  /** How long the links work, in ms (`pending_upload_hours`). */
  holdMs: number;
  /** Sends the confirmation mail; rejects when it cannot (the upload is then not kept). */
  notify(notice: ConfirmationNotice): Promise<void>;
}

/** Where an upload came from: the base URL its links start with, and the client. */
export interface UploadOrigin {
  base: string;
  client?: string;
}

/** A held upload as its links' page shows it. */
export type PendingView = PendingUploadView;

/** The SHA-256 of a token, as stored: a copy of the database holds no working link. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

const notFound = (): StratusError => new StratusError('PENDING_UPLOAD_NOT_FOUND',
  'no upload waits for confirmation under this link: it was confirmed, aborted or reported already, it expired, or the link is wrong');

/**
 * Uploads held until their endorser confirms them by e-mail (reference §6.3). The links carry
 * a random 256-bit token; the store keeps its SHA-256 only. A held upload has passed every
 * check already; confirming it stores it as an upload would have.
 */
export class UploadConfirmations {
  constructor(
    private readonly store: PendingUploadStore,
    private readonly entries: EntryStore,
    private readonly clock: () => Date,
    private readonly options?: ConfirmationOptions,
  ) {}

  /** Whether uploads outside the trust policy are held (validate_email). */
  get holding(): boolean {
    return this.options !== undefined;
  }

  /**
   * Holds a verified upload and mails its endorser, at the certificate's address (never one
   * the document alone claims). The very same entry stored already is 'exists', and one the
   * store would refuse is refused now, so nobody is mailed about what could never be stored.
   */
  async hold(upload: VerifiedUpload, key: EntryKey, row: NewEntryRow, uploaderId: string | undefined, origin: UploadOrigin): Promise<{ status: 'exists' } | { status: 'pending'; to: string; expires: string }> {
    const options = this.options;
    if (!options) throw new StratusError('INTERNAL', 'uploads are not held for confirmation on this server');
    const to = confirmationAddress(upload.certEmail, key.email);
    if ((await this.entries.admissible(row)) === 'exists') return { status: 'exists' };
    const token = randomBytes(32).toString('base64url');
    const hash = tokenHash(token);
    const now = this.clock();
    const expires = new Date(now.getTime() + options.holdMs).toISOString();
    const { entry } = upload;
    await this.store.hold({
      token_hash: hash, identifier: key.identifier, email: key.email, created: key.created,
      subject: entry.endorsement.subject ?? null, title: entry.title ?? null, deprecating: entry.deprecated ? 1 : 0,
      uploader_id: uploaderId ?? null, client: origin.client ?? null, received: now.toISOString(), expires, xml: upload.text,
    });
    try {
      await options.notify({
        to, token, base: origin.base, identifier: key.identifier, created: key.created, deprecating: !!entry.deprecated, expires,
        ...(entry.title ? { title: entry.title } : {}),
      });
    } catch (e) {
      // Nobody could be told, so nobody could confirm: keep nothing.
      await this.store.remove(hash, now.toISOString()).catch(() => undefined);
      throw e;
    }
    return { status: 'pending', to, expires };
  }

  /** The held upload behind `token`; PENDING_UPLOAD_NOT_FOUND when there is none (used, expired or never made). */
  async find(token: string): Promise<PendingUploadRow> {
    const row = await this.store.find(tokenHash(token), this.now());
    if (!row) throw notFound();
    return row;
  }

  async view(token: string): Promise<PendingView> {
    const r = await this.find(token);
    return { identifier: r.identifier, email: r.email, created: r.created, title: r.title, deprecating: r.deprecating === 1, received: r.received, expires: r.expires };
  }

  /** Removes the held upload and stores `row` in one transaction; a second confirmation finds nothing. */
  async commit(token: string, row: NewEntryRow, uploaderId: string | null): Promise<'created' | 'exists'> {
    const status = await this.store.commit(tokenHash(token), this.now(), row, uploaderId ? { retireDraftsOf: uploaderId } : {});
    if (status === undefined) throw notFound();
    return status;
  }

  /** Drops the held upload. */
  async abort(token: string): Promise<PendingView> {
    const view = await this.view(token);
    if (!(await this.store.remove(tokenHash(token), this.now()))) throw notFound();
    return view;
  }

  /** Drops the held upload and hands what the administrators need to `report`, which runs first: a failed report keeps the upload, so the link can be tried again. */
  async reportAbuse(token: string, report: (r: AbuseReport) => Promise<void>): Promise<PendingView> {
    const r = await this.find(token);
    await report({ identifier: r.identifier, email: r.email, created: r.created, subject: r.subject, received: r.received, client: r.client, uploaderId: r.uploader_id });
    await this.store.remove(tokenHash(token), this.now());
    return { identifier: r.identifier, email: r.email, created: r.created, title: r.title, deprecating: r.deprecating === 1, received: r.received, expires: r.expires };
  }

  /** Removes every expired held upload; how many went. */
  purgeExpired(): Promise<number> {
    return this.store.purgeExpired(this.now());
  }

  private now(): string {
    return this.clock().toISOString();
  }
}

/**
 * Where the confirmation goes: the signing certificate's e-mail. The endorser check has made
 * the entry's endorser e-mail equal to it; a certificate without one, or with one that is not
 * a plain address (a line break would start a mail header), cannot be asked.
 */
function confirmationAddress(certEmail: string | undefined, endorserEmail: string): string {
  if (certEmail === undefined) {
    throw new StratusError('TRUST_REJECTED', `this Marketplace asks endorsers outside its trust policy to confirm their uploads by e-mail, and the signing certificate carries no e-mail address (subjectAltName rfc822Name) to ask; the entry names ${JSON.stringify(endorserEmail)}, which the certificate does not vouch for`, {
      hint: 'Sign with a certificate that carries your e-mail address (stratus-generate-p12 --email), or ask the operator to trust your certificate.',
    });
  }
  if (certEmail !== endorserEmail) {
    throw new StratusError('ENDORSER_INCONSISTENT', `endorser inconsistency (email): ${certEmail} != ${endorserEmail}`);
  }
  if (!isPlainAddress(certEmail)) {
    throw new StratusError('EMAIL_INVALID', `the signing certificate's e-mail address ${JSON.stringify(certEmail)} is not a plain e-mail address, so no confirmation can be sent to it`, {
      hint: 'Sign with a certificate whose subjectAltName e-mail is one plain address such as jane@example.org.',
    });
  }
  return certEmail;
}
