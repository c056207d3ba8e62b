import { addDays, formatUtc } from '../../domain/dates.js';
import { identifierFromSha1 } from '../../domain/identifier.js';
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

/** Everything stratus-build-metadata puts in a new, unsigned entry (reference §4.4). */
export interface EntryDraft {
  identifier: string;
  bytes: number;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  type: string;
  kind: string;
  os: string;
  osVersion: string;
  osArch: string;
  version: string;
  compression: string;
  locations: string[];
  format: string;
  creator: string;
  created: string;
  valid: string;
  title: string;
  alternative: string;
  description: string;
  hypervisor: string;
  disksBus: string;
  inboundPorts?: number[];
  publisher?: string;
  deprecated?: string;
}

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
 * Writes an unsigned entry in the element order of StratusLab's manifest template, with an
 * empty endorsement for the signer to fill. Checksums that were skipped are left out rather
 * than written empty (the old template's empty values failed the schema; docs/compat.md).
 */
export function buildEntryXml(d: EntryDraft): string {
  const el = (q: string, v: string): string => `    <${q}>${escapeText(v)}</${q}>\n`;
  const checksums = CHECKSUM_ALGORITHMS.filter((a) => d.checksums[a])
    .map((a) => `    <slreq:checksum rdf:parseType="Resource">\n      <slreq:algorithm>${a}</slreq:algorithm>\n      <slreq:value>${d.checksums[a]}</slreq:value>\n    </slreq:checksum>\n`)
    .join('');
  return XML_DECLARATION + `<rdf:RDF xmlns:dcterms="${NS.dcterms}" xmlns:rdf="${NS.rdf}" xmlns:slreq="${NS.slreq}" xmlns:slterms="${NS.slterms}" xml:base="${MP_BASE}">\n`
    + `  <rdf:Description rdf:about="#${d.identifier}">\n`
    + el('dcterms:identifier', d.identifier)
    + el('slreq:bytes', String(d.bytes))
    + checksums
    + '    <slreq:endorsement rdf:parseType="Resource"/>\n'
    + el('dcterms:type', d.type)
    + el('slterms:kind', d.kind)
    + el('slterms:os', d.os)
    + el('slterms:os-version', d.osVersion)
    + el('slterms:os-arch', d.osArch)
    + el('slterms:version', d.version)
    + el('dcterms:compression', d.compression)
    + d.locations.map((l) => el('slterms:location', l)).join('')
    + el('dcterms:format', d.format)
    + el('dcterms:creator', d.creator)
    + el('dcterms:created', d.created)
    + el('dcterms:valid', d.valid)
    + el('dcterms:title', d.title)
    + el('dcterms:alternative', d.alternative)
    + el('dcterms:description', d.description)
    + el('slterms:hypervisor', d.hypervisor)
    + el('slterms:disks-bus', d.disksBus)
    + (d.inboundPorts ?? []).map((p) => el('slterms:inbound-port', String(p))).join('')
    + el('dcterms:publisher', d.publisher ?? 'StratusLab')
    + (d.deprecated !== undefined ? el('slterms:deprecated', d.deprecated) : '')
    + '  </rdf:Description>\n</rdf:RDF>\n';
}

/** The file name build-metadata writes: <os>-<osversion>-<arch>-<type>-<version>.xml. */
export function entryFileName(d: Pick<EntryDraft, 'os' | 'osVersion' | 'osArch' | 'type' | 'version'>): string {
  return `${d.os}-${d.osVersion}-${d.osArch}-${d.type}-${d.version}.xml`;
}
