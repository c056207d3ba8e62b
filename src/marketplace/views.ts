import type { EntryDetail, EntryStatusName, EntrySummary, SignatureInfo } from '../domain/wire.js';
import { isStratusError } from '../domain/errors.js';
import { parseXml } from '../metadata/xml/parse.js';
import { extensionElements, readEntry } from '../metadata/entry/entry.js';
import { serializeElement } from '../metadata/xml/serialize.js';
import { verifySignature } from '../metadata/dsig/verify.js';
import { endorserInconsistencies } from '../metadata/validate/validate.js';
import type { EntryRow } from '../storage/entries.js';

/** The listing view of a stored row. */
export function toSummary(row: EntryRow, status: EntryStatusName): EntrySummary {
  return {
    identifier: row.identifier,
    email: row.email,
    created: row.created,
    status,
    os: row.os,
    osVersion: row.os_version,
    osArch: row.os_arch,
    kind: row.kind,
    type: row.type,
    title: row.title,
    description: row.description,
    alternative: row.alternative,
    creator: row.creator,
    version: row.version,
    format: row.format,
    bytes: row.bytes === null ? null : Number(row.bytes),
    valid: row.valid,
    deprecated: row.deprecated,
    location: row.location,
    locations: JSON.parse(row.locations) as string[],
    subject: row.subject,
    issuer: row.issuer,
    path: `/metadata/${row.identifier}/${row.email}/${row.created}`,
  };
}

/** The full view of a stored row: every field, and the signature checked again now. */
export function toDetail(row: EntryRow, status: EntryStatusName): EntryDetail {
  const doc = parseXml(row.xml, { source: 'stored entry', maxBytes: Number.MAX_SAFE_INTEGER });
  const e = readEntry(doc);
  let signature: SignatureInfo;
  try {
    const v = verifySignature(doc);
    const problems = v.certificate ? endorserInconsistencies(doc, v.certificate) : [];
    signature = { valid: v.valid && problems.length === 0, algorithm: v.algorithm };
    const reason = v.reason ?? problems[0];
    if (reason) signature.reason = reason;
    if (v.certificate) {
      signature.signer = {
        subject: v.certificate.subject,
        issuer: v.certificate.issuer,
        notBefore: v.certificate.notBefore.toISOString(),
        notAfter: v.certificate.notAfter.toISOString(),
        ...(v.certificate.email ? { email: v.certificate.email } : {}),
      };
    }
  } catch (err) {
    if (!isStratusError(err)) throw err;
    signature = { valid: false, reason: err.message };
  }
  return {
    ...toSummary(row, status),
    checksums: e.checksums,
    hypervisor: e.hypervisor ?? null,
    disksBus: e.disksBus ?? null,
    publisher: e.publisher ?? null,
    serialNumber: e.serialNumber ?? null,
    compression: e.compression ?? null,
    metadataCreated: e.created ?? null,
    inboundPorts: e.inboundPorts,
    outboundPorts: e.outboundPorts,
    icmp: e.icmp,
    extensions: extensionElements(doc).map(serializeElement),
    signature,
  };
}

/** One DataTables row: ["", os, osversion, arch, email, kind, created, identifier, location, description, title]. */
export function toDataTablesRow(s: EntrySummary): string[] {
  const v = (x: string | null): string => x ?? 'null';
  return ['', v(s.os), v(s.osVersion), v(s.osArch), s.email, v(s.kind), s.created, s.identifier, v(s.location), v(s.description), v(s.title)];
}
