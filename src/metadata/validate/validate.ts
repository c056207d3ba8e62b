import type { Document } from '@xmldom/xmldom';
import { StratusError, isStratusError } from '../../domain/errors.js';
import { NS, descendantsNamed, textOf } from '../xml/dom.js';
import { verifySignature } from '../dsig/verify.js';
import type { SignatureVerdict } from '../dsig/verify.js';
import type { CertInfo } from '../cert/certificate.js';
import { checkSchema } from './schema.js';
import { checkConstraints } from './constraints.js';
import { checkRdf } from './rdf.js';

export type CheckName = 'signature' | 'endorser' | 'schema' | 'constraints' | 'rdf';

/** One problem found in an entry, tagged with the check that found it. */
export interface Finding {
  check: CheckName;
  message: string;
}

export interface ValidationReport {
  findings: Finding[];
  /** Present when the document carries a signature that could be checked. */
  signature?: SignatureVerdict;
}

/**
 * Runs every check of reference §5.4 and collects all findings, in StratusLab's order:
 * signature, endorser consistency, schema, constraints, RDF/XML. Unlike the Java tools it
 * does not stop at the first failure, so users see everything wrong at once.
 */
export function validateDocument(doc: Document, options: { schema?: boolean } = {}): ValidationReport {
  const findings: Finding[] = [];
  const report: ValidationReport = { findings };
  try {
    const verdict = verifySignature(doc);
    report.signature = verdict;
    if (!verdict.valid) findings.push({ check: 'signature', message: verdict.reason ?? 'signature validation failed' });
    if (verdict.certificate) {
      for (const message of endorserInconsistencies(doc, verdict.certificate)) findings.push({ check: 'endorser', message });
    }
  } catch (e) {
    if (!isStratusError(e)) throw e;
    findings.push({ check: 'signature', message: e.message });
  }
  if (options.schema !== false) for (const message of checkSchema(doc)) findings.push({ check: 'schema', message });
  for (const message of checkConstraints(doc)) findings.push({ check: 'constraints', message });
  for (const message of checkRdf(doc)) findings.push({ check: 'rdf', message });
  return report;
}

/**
 * Endorser consistency (§5.4 step 2): the certificate's RFC 2253 subject and issuer, and its
 * SAN e-mail when it has one, must equal the first slreq:subject / issuer / email.
 */
export function endorserInconsistencies(doc: Document, cert: CertInfo): string[] {
  const firstText = (local: string): string | null => {
    const el = descendantsNamed(doc, NS.slreq, local)[0];
    return el ? textOf(el).trim() : null;
  };
  const out: string[] = [];
  const pairs: Array<[string, string | undefined]> = [['subject', cert.subject], ['issuer', cert.issuer], ['email', cert.email]];
  for (const [key, certValue] of pairs) {
    if (certValue === undefined) continue;
    const docValue = firstText(key);
    if (docValue !== certValue) out.push(`endorser inconsistency (${key}): ${certValue} != ${docValue ?? 'null'}`);
  }
  return out;
}

/** Throws the first finding as the StratusError a server upload answers with. */
export function assertValid(report: ValidationReport): void {
  const first = report.findings[0];
  if (!first) return;
  const code = first.check === 'signature'
    ? (first.message === 'no signature' ? 'SIGNATURE_MISSING' : 'SIGNATURE_INVALID')
    : first.check === 'endorser' ? 'ENDORSER_INCONSISTENT' : 'METADATA_INVALID';
  throw new StratusError(code, first.message);
}
