import { StratusError } from '../domain/errors.js';
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

/** An upload that passed every check: the typed entry and the document text to store. */
export interface VerifiedUpload {
  entry: Entry;
  text: string;
}

/** Turns an upload body into a verified entry, or throws the StratusError that says why not. */
export interface UploadVerifier {
  verify(body: Buffer | string): Promise<VerifiedUpload>;
  close(): Promise<void>;
}

export interface VerifyOptions {
  maxBytes?: number;
  trust?: TrustPolicy;
  now: () => Date;
  /** The entry schema the typed entry is read with (default: the real one). */
  fields?: EntryFields;
}

/**
 * Every upload check of reference §5.4 plus the schema: parse safely, verify the signature
 * and endorser, schema, constraints and RDF/XML, then the optional trust policy.
 */
export function verifyUpload(body: Buffer | string, o: VerifyOptions): VerifiedUpload {
  const doc = parseXml(body, { ...(o.maxBytes !== undefined ? { maxBytes: o.maxBytes } : {}), source: 'metadata' });
  const report = validateDocument(doc);
  assertValid(report);
  const cert = report.signature?.certificate;
  if (o.trust && cert) {
    const reason = trustRejection(cert, o.trust, o.now());
    if (reason) throw new StratusError('TRUST_REJECTED', reason);
  }
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8').replace(/^\uFEFF/, '');
  return { entry: readEntry(doc, o.fields), text };
}

/** Verifies on the calling thread (tests, small servers). */
export function inlineVerifier(o: VerifyOptions): UploadVerifier {
  return {
    verify: async (body) => verifyUpload(body, o),
    close: async () => undefined,
  };
}
