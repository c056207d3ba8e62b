import type { EntryDetail, EntryStatusName, EntrySummary, SignatureInfo } from '../domain/wire.js';
import { ENTRY_FIELDS, valueFieldPlan } from '../domain/entry-fields.js';
import type { EntryFields } from '../domain/entry-fields.js';
import { isStratusError } from '../domain/errors.js';
import { parseXml } from '../metadata/xml/parse.js';
import { extensionElements, readEntry } from '../metadata/entry/entry.js';
import { serializeElement } from '../metadata/xml/serialize.js';
import { verifySignature } from '../metadata/dsig/verify.js';
import { endorserInconsistencies } from '../metadata/validate/validate.js';
import type { EntryRow } from '../storage/entries.js';

/** The listing view of a stored row: its key and provenance, and every field with a column. */
export function toSummary(row: EntryRow, status: EntryStatusName, fields: EntryFields = ENTRY_FIELDS): EntrySummary {
  const columns = row as unknown as Record<string, unknown>;
  // Filled in place rather than spread together: a listing makes this object for every row.
  const summary: Record<string, unknown> = { identifier: row.identifier, email: row.email, created: row.created, status };
  for (const f of valueFieldPlan(fields).listed) {
    const v = columns[f.column as string];
    summary[f.wire] = f.many ? JSON.parse(String(v ?? '[]')) as unknown[] : v === null || v === undefined ? null : f.integer ? Number(v) : v;
  }
  summary.location = row.location;
  summary.subject = row.subject;
  summary.issuer = row.issuer;
  summary.path = `/metadata/${row.identifier}/${row.email}/${row.created}`;
  return summary as unknown as EntrySummary;
}

/** The full view of a stored row: every field, and the signature checked again now. */
export function toDetail(row: EntryRow, status: EntryStatusName, fields: EntryFields = ENTRY_FIELDS): EntryDetail {
  const doc = parseXml(row.xml, { source: 'stored entry', maxBytes: Number.MAX_SAFE_INTEGER });
  const e = readEntry(doc, fields);
  let signature: SignatureInfo;
  try {
    const v = verifySignature(doc);
    const problems = endorserInconsistencies(doc, v.certificate);
    signature = { valid: v.valid && problems.length === 0, algorithm: v.algorithm };
    const reason = v.reason ?? problems[0];
    if (reason) signature.reason = reason;
    signature.signer = {
      subject: v.certificate.subject,
      issuer: v.certificate.issuer,
      notBefore: v.certificate.notBefore.toISOString(),
      notAfter: v.certificate.notAfter.toISOString(),
      ...(v.certificate.email ? { email: v.certificate.email } : {}),
    };
  } catch (err) {
    if (!isStratusError(err)) throw err;
    signature = { valid: false, reason: err.message };
  }
  const detail = toSummary(row, status, fields) as unknown as Record<string, unknown>;
  const values = e as unknown as Record<string, unknown>;
  for (const f of valueFieldPlan(fields).unlisted) detail[f.wire] = values[f.name] ?? (f.many ? [] : null);
  detail.checksums = e.checksums;
  detail.extensions = extensionElements(doc).map(serializeElement);
  detail.signature = signature;
  return detail as unknown as EntryDetail;
}

/** One DataTables row: ["", os, osversion, arch, email, kind, created, identifier, location, description, title]. */
export function toDataTablesRow(s: EntrySummary): string[] {
  const v = (x: string | null): string => x ?? 'null';
  return ['', v(s.os), v(s.osVersion), v(s.osArch), s.email, v(s.kind), s.created, s.identifier, v(s.location), v(s.description), v(s.title)];
}
