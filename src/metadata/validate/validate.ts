import type { Document, Element } from '@xmldom/xmldom';
import { StratusError, errorCatalogue, isStratusError } from '../../domain/errors.js';
import type { ErrorCode } from '../../domain/errors.js';
import { NS, descendantElements, elementPath, textOf } from '../xml/dom.js';
import { verifySignature } from '../dsig/verify.js';
import type { SignatureVerdict } from '../dsig/verify.js';
import type { CertInfo } from '../cert/certificate.js';
import { endorsementElements } from '../entry/entry.js';
import { checkSchema } from './schema.js';
import { checkConstraints } from './constraints.js';
import { checkRdf } from './rdf.js';
import { checkContent } from './content.js';

export type CheckName = 'signature' | 'endorser' | 'content' | 'schema' | 'constraints' | 'rdf';

/** One problem found in an entry, tagged with the check that found it. */
export interface Finding {
  check: CheckName;
  message: string;
  /** Advice for this finding when it differs from its error code's usual hint. */
  hint?: string;
}

export interface ValidationReport {
  findings: Finding[];
  /** Present when the document carries a signature that could be checked. */
  signature?: SignatureVerdict;
}

/**
 * Runs every check of reference §5.4 and collects all findings, in StratusLab's order:
 * signature, endorser consistency, then what Stratus adds (content a browser could run,
 * comments), schema, constraints, RDF/XML. Unlike the Java tools it does not stop at the
 * first failure, so users see everything wrong at once.
 */
export function validateDocument(doc: Document, options: { schema?: boolean } = {}): ValidationReport {
  const findings: Finding[] = [];
  const report: ValidationReport = { findings };
  try {
    const verdict = verifySignature(doc);
    report.signature = verdict;
    if (!verdict.valid) findings.push({ check: 'signature', message: verdict.reason ?? 'signature validation failed' });
    for (const message of certificateMismatches(doc, verdict.certificate)) findings.push({ check: 'endorser', message });
  } catch (e) {
    if (!isStratusError(e)) throw e;
    const finding: Finding = { check: 'signature', message: e.message };
    if (e.hint !== errorCatalogue[e.code].hint) finding.hint = e.hint;
    findings.push(finding);
  }
  const stray = strayEndorserCheck(doc);
  const content = checkContent(doc, stray.visit);
  for (const message of stray.findings) findings.push({ check: 'endorser', message, hint: STRAY_HINT });
  for (const message of content) findings.push({ check: 'content', message });
  if (options.schema !== false) for (const message of checkSchema(doc)) findings.push({ check: 'schema', message });
  for (const message of checkConstraints(doc)) findings.push({ check: 'constraints', message });
  for (const message of checkRdf(doc)) findings.push({ check: 'rdf', message });
  return report;
}

/**
 * Endorser consistency (§5.4 step 2), on the endorsement the store indexes: the certificate's
 * RFC 2253 subject and issuer, and its SAN e-mail when it has one, must equal that
 * endorsement's slreq:subject / slreq:issuer / slreq:email; and no other element may look like
 * an endorser (StratusLab compared the first slreq:* in the document, which a decoy placed
 * before the endorsement could satisfy).
 */
export function endorserInconsistencies(doc: Document, cert: CertInfo): string[] {
  return [...certificateMismatches(doc, cert), ...strayEndorserElements(doc)];
}

function certificateMismatches(doc: Document, cert: CertInfo): string[] {
  const parts = endorsementElements(doc);
  const text = (el: Element | undefined): string | null => (el ? textOf(el).trim() : null);
  const out: string[] = [];
  const pairs: Array<[string, string | undefined, Element | undefined]> = [
    ['subject', cert.subject, parts.subject], ['issuer', cert.issuer, parts.issuers[0]], ['email', cert.email, parts.email],
  ];
  for (const [key, certValue, el] of pairs) {
    if (certValue === undefined) continue;
    const docValue = text(el);
    if (docValue !== certValue) out.push(`endorser inconsistency (${key}): ${certValue} != ${docValue ?? 'null'}`);
  }
  return out;
}

const ENDORSER_NAMES = new Set(['endorsement', 'endorser', 'email', 'subject', 'issuer']);
const STRAY_HINT = 'Remove every slreq:endorsement, slreq:endorser, slreq:email, slreq:subject and slreq:issuer but the one '
  + 'endorsement block in rdf:Description, then sign again (the signer fills that block from the certificate).';

/** Endorser-like elements other than the indexed endorsement's own, each once. */
function strayEndorserElements(doc: Document): string[] {
  const check = strayEndorserCheck(doc);
  for (const el of descendantElements(doc)) check.visit(el);
  return check.findings;
}

/** The stray-endorser check as a visitor, so validateDocument runs it on the content walk. */
function strayEndorserCheck(doc: Document): { visit: (el: Element) => void; findings: string[] } {
  const parts = endorsementElements(doc);
  const indexed = new Set<Element | undefined>([parts.endorsement, parts.created, parts.endorser, parts.email, parts.subject, parts.issuers[0]]);
  const findings: string[] = [];
  const visit = (el: Element): void => {
    if (findings.length >= 10 || indexed.has(el)) return;
    const endorserLike = el.namespaceURI === NS.slreq && ENDORSER_NAMES.has(el.localName ?? '');
    const secondCreated = el.parentNode === parts.endorsement && el.namespaceURI === NS.dcterms && el.localName === 'created';
    if (endorserLike || secondCreated) {
      findings.push(`endorser inconsistency: ${el.tagName} at ${elementPath(el)} is not part of the entry's endorsement; `
        + 'only rdf:Description/slreq:endorsement (with one dcterms:created) /slreq:endorser (with one slreq:email, slreq:subject and slreq:issuer) may name the endorser');
    }
  };
  return { visit, findings };
}

const CODES: Record<CheckName, ErrorCode> = {
  signature: 'SIGNATURE_INVALID', endorser: 'ENDORSER_INCONSISTENT', content: 'METADATA_UNSAFE', schema: 'METADATA_INVALID', constraints: 'METADATA_INVALID', rdf: 'METADATA_INVALID',
};

/** Throws the first finding as the StratusError a server upload answers with. */
export function assertValid(report: ValidationReport): void {
  const first = report.findings[0];
  if (!first) return;
  const code = first.check === 'signature' && first.message === 'no signature' ? 'SIGNATURE_MISSING' : CODES[first.check];
  throw new StratusError(code, first.message, first.hint ? { hint: first.hint } : {});
}
