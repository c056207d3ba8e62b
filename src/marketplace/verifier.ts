import { StratusError } from '../domain/errors.js';
import { formatUtc, parseStrictUtc } from '../domain/dates.js';
import type { EntryFields } from '../domain/entry-fields.js';
import { parseXml } from '../metadata/xml/parse.js';
import { readEntry } from '../metadata/entry/entry.js';
import type { Entry } from '../metadata/entry/entry.js';
import { assertValid, validateDocument } from '../metadata/validate/validate.js';
import { readCertificate } from '../metadata/cert/certificate.js';
import { trustRejection } from '../metadata/trust.js';
import type { TrustPolicy } from '../metadata/trust.js';

/** The trust policy as plain data, so it can cross to a worker thread. */
export interface TrustSettings {
  endorsers?: string[];
  /** PEM text of each trusted CA certificate. */
  caPems?: string[];
}

export function compileTrust(s: TrustSettings | undefined): TrustPolicy | undefined {
  if (!s || (!s.endorsers?.length && !s.caPems?.length)) return undefined;
  const policy: TrustPolicy = {};
  if (s.endorsers?.length) policy.endorsers = s.endorsers;
  if (s.caPems?.length) policy.cas = s.caPems.map((pem) => readCertificate(pem));
  return policy;
}

/**
 * What the trust policy says of an upload's signer: `trusted` when a policy accepts it;
 * otherwise `reason` says why a policy refuses it, and is absent when there is no policy.
 * The Marketplace decides what follows (refuse, or hold for confirmation by e-mail).
 */
export interface TrustVerdict {
  trusted: boolean;
  reason?: string;
}

/** An upload that passed every check: the typed entry and the document text to store. */
export interface VerifiedUpload {
  entry: Entry;
  text: string;
  /** The signing certificate's e-mail (its subjectAltName rfc822Name), where a confirmation goes. */
  certEmail?: string;
  trust: TrustVerdict;
}

/** Turns an upload body into a verified entry, or throws the StratusError that says why not. */
export interface UploadVerifier {
  verify(body: Buffer | string): Promise<VerifiedUpload>;
  close(): Promise<void>;
}

/** How far ahead of the server's clock an endorsement date may be, by default: clocks drift. */
export const DEFAULT_MAX_CREATED_AHEAD_SECONDS = 300;

export interface VerifyOptions {
  maxBytes?: number;
  trust?: TrustPolicy;
  now: () => Date;
  /** Refuse an endorsement dated more than this many seconds after now() (default 300). */
  maxCreatedAheadSeconds?: number;
  /** The entry schema the typed entry is read with (default: the real one). */
  fields?: EntryFields;
}

/**
 * Every upload check of reference §5.4 plus the schema: parse safely, verify the signature
 * (which must carry a certificate) and the endorser, refuse content a browser could run,
 * schema, constraints and RDF/XML, an endorsement dated in the future; then the trust
 * policy's verdict, which the caller acts on.
 */
export function verifyUpload(body: Buffer | string, o: VerifyOptions): VerifiedUpload {
  const doc = parseXml(body, { ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}), source: 'metadata' });
  const report = validateDocument(doc);
  assertValid(report);
  // assertValid passed, so the signature verified, and a verified signature has its certificate.
  const cert = report.signature?.certificate;
  if (!cert) throw new StratusError('SIGNATURE_INVALID', 'signature has no X.509 certificate');
  const entry = readEntry(doc, o.fields);
  const now = o.now();
  refuseFutureEndorsement(entry.endorsement.created, now, o.maxCreatedAheadSeconds ?? DEFAULT_MAX_CREATED_AHEAD_SECONDS);
  let trust: TrustVerdict = { trusted: false };
  if (o.trust) {
    const reason = trustRejection(cert, o.trust, now) ?? unboundEmail(cert.email, entry.endorsement.email);
    trust = reason ? { trusted: false, reason } : { trusted: true };
  }
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8').replace(/^\uFEFF/, '');
  return { entry, text, trust, ...(cert.email !== undefined ? { certEmail: cert.email } : {}) };
}

/**
 * A date far ahead would make it the endorser's latest entry for good: every real upload
 * after it would be "older than latest" until that date.
 */
function refuseFutureEndorsement(created: string | undefined, now: Date, maxAheadSeconds: number): void {
  const date = created === undefined ? undefined : parseStrictUtc(created);
  if (!date) return; // the constraints check has reported it already
  const ahead = (date.getTime() - now.getTime()) / 1000;
  if (ahead > maxAheadSeconds) {
    throw new StratusError('ENDORSEMENT_IN_FUTURE',
      `the endorsement date dcterms:created ${created ?? ''} is ${Math.round(ahead)} s ahead of this server's clock (${formatUtc(now)}); at most ${maxAheadSeconds} s is accepted`);
  }
}

/**
 * Under a trust policy the certificate vouches for the endorser, so it must name the e-mail
 * the entry is filed under; one without an e-mail could claim anyone's (without a policy
 * nothing is vouched for, as in StratusLab, and such certificates stay accepted).
 */
function unboundEmail(certEmail: string | undefined, email: string | undefined): string | undefined {
  if (certEmail !== undefined) return undefined; // the endorser check compared them already
  return `trust policy: the certificate carries no e-mail address (subjectAltName rfc822Name), so it cannot vouch for endorser ${email ?? '(none)'}`;
}

/** Verifies on the calling thread (tests, small servers). */
export function inlineVerifier(o: VerifyOptions): UploadVerifier {
  return {
    verify: async (body) => verifyUpload(body, o),
    close: async () => undefined,
  };
}
