import { addDays, formatUtc } from '../../domain/dates.js';
import { identifierFromSha1 } from '../../domain/identifier.js';
import { ENTRY_FIELDS, qualifiedName } from '../../domain/entry-fields.js';
import type { EntryFields, EntryValues } from '../../domain/entry-fields.js';
import type { DigestName, DigestResult } from '../../platform/hashing.js';
import { escapeText } from '../xml/c14n.js';
import { MP_BASE, NS } from '../xml/dom.js';
import { XML_DECLARATION } from '../xml/serialize.js';

/** The checksums stratus-build-metadata can compute, in the order the template writes them. */
export const CHECKSUM_ALGORITHMS = ['MD5', 'SHA-1', 'SHA-256', 'SHA-512'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** The digests stratus-build-metadata computes: each checksum algorithm with its digest name. */
export const BUILD_DIGESTS: Array<[ChecksumAlgorithm, DigestName]> = [['MD5', 'md5'], ['SHA-1', 'sha1'], ['SHA-256', 'sha256'], ['SHA-512', 'sha512']];

/** StratusLab's 178-day default validity ((356/2) days: a typo for 365 that stuck). */
export const DEFAULT_VALID_DAYS = 178;

/**
 * Everything stratus-build-metadata puts in a new, unsigned entry (reference §4.4): the
 * content's identifier, size and checksums, and any field of the entry schema. Fields the
 * template always has and that are left out are written with their default (or empty).
 */
export type EntryDraft = Partial<EntryValues> & {
  identifier: string;
  bytes: number;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
};

/** The fields of a new entry that come from the content and the time it is described. */
type DerivedField = 'identifier' | 'bytes' | 'checksums' | 'created' | 'valid';

/**
 * A new entry as stratus-build-metadata makes it for content with these digests (SHA-1
 * among them: it gives the identifier), created `now` and valid for `validDays`.
 */
export function newDraft(content: DigestResult, fields: Omit<EntryDraft, DerivedField>, validDays = DEFAULT_VALID_DAYS, now = new Date()): EntryDraft {
  const { bytes, digests } = content;
  return {
    ...fields,
    identifier: identifierFromSha1(digests.sha1 as string),
    bytes,
    checksums: Object.fromEntries(BUILD_DIGESTS.filter(([, n]) => digests[n]).map(([a, n]) => [a, digests[n]])),
    created: formatUtc(now),
    valid: formatUtc(addDays(now, validDays)),
  };
}

/**
 * Writes an unsigned entry in the element order of StratusLab's manifest template (the order
 * of the field table), with an empty endorsement for the signer to fill. Checksums that were
 * skipped are left out rather than written empty (the old template's empty values failed the
 * schema; docs/compat.md).
 */
export function buildEntryXml(d: EntryDraft, fields: EntryFields = ENTRY_FIELDS): string {
  const values = d as unknown as Record<string, unknown>;
  const body = fields.map((f) => {
    const q = qualifiedName(f);
    const el = (v: unknown): string => `    <${q}>${escapeText(String(v))}</${q}>\n`;
    if (f.type === 'checksum') {
      return CHECKSUM_ALGORITHMS.filter((a) => d.checksums[a])
        .map((a) => `    <${q} rdf:parseType="Resource">\n      <slreq:algorithm>${a}</slreq:algorithm>\n      <slreq:value>${d.checksums[a]}</slreq:value>\n    </${q}>\n`)
        .join('');
    }
    if (f.type === 'endorsement') return `    <${q} rdf:parseType="Resource"/>\n`;
    const v = values[f.name];
    if (f.cardinality === 'many') return ((v ?? []) as unknown[]).map(el).join('');
    if (v !== undefined) return el(v);
    return f.build ? el(f.build.default ?? '') : '';
  }).join('');
  return XML_DECLARATION + `<rdf:RDF xmlns:dcterms="${NS.dcterms}" xmlns:rdf="${NS.rdf}" xmlns:slreq="${NS.slreq}" xmlns:slterms="${NS.slterms}" xml:base="${MP_BASE}">\n`
    + `  <rdf:Description rdf:about="#${d.identifier}">\n`
    + body
    + '  </rdf:Description>\n</rdf:RDF>\n';
}

/** The file name build-metadata writes: <os>-<osversion>-<arch>-<type>-<version>.xml. */
export function entryFileName(d: EntryDraft): string {
  const part = (k: 'os' | 'osVersion' | 'osArch' | 'type' | 'version'): string => d[k] ?? fieldDefault(k);
  return `${part('os')}-${part('osVersion')}-${part('osArch')}-${part('type')}-${part('version')}.xml`;
}

/** What the template writes for a field left out of a draft. */
export function fieldDefault(name: string, fields: EntryFields = ENTRY_FIELDS): string {
  return fields.find((f) => f.name === name)?.build?.default ?? '';
}
