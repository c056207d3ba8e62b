import type { Document, Element } from '@xmldom/xmldom';
import { StratusError } from '../../domain/errors.js';
import { NS, childElements, childrenNamed, textOf } from '../xml/dom.js';

/** One checksum block: algorithm name as written (MD5, SHA-1, SHA-256, SHA-512) and hex value. */
export interface Checksum {
  algorithm: string;
  value: string;
}

/** The endorsement: when it was signed, and by whom (filled from the certificate). */
export interface Endorsement {
  created?: string;
  email?: string;
  subject?: string;
  issuers: string[];
}

/**
 * The typed view of one metadata entry (reference §4.3). The signed document stays the
 * source of truth; this view is what search, listings and the CLI read.
 */
export interface Entry {
  identifier: string;
  about?: string;
  bytes?: number;
  checksums: Checksum[];
  endorsement: Endorsement;
  type?: string;
  kind?: string;
  os?: string;
  osVersion?: string;
  osArch?: string;
  version?: string;
  serialNumber?: string;
  compression?: string;
  format?: string;
  locations: string[];
  creator?: string;
  created?: string;
  valid?: string;
  title?: string;
  alternative?: string;
  description?: string;
  hypervisor?: string;
  disksBus?: string;
  publisher?: string;
  deprecated?: string;
  inboundPorts: number[];
  outboundPorts: number[];
  icmp: number[];
}

/** The single rdf:Description of an entry document. */
export function descriptionOf(doc: Document): Element {
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== NS.rdf || root.localName !== 'RDF') {
    throw new StratusError('METADATA_INVALID', `root element must be rdf:RDF, not ${root?.tagName ?? 'nothing'}`);
  }
  const desc = childrenNamed(root, NS.rdf, 'Description')[0];
  if (!desc) throw new StratusError('METADATA_INVALID', 'rdf:RDF must contain one rdf:Description');
  return desc;
}

/** Reads the typed view of an entry. Missing optional elements stay undefined. */
export function readEntry(doc: Document): Entry {
  const desc = descriptionOf(doc);
  const first = (ns: string, local: string): string | undefined => {
    const el = childrenNamed(desc, ns, local)[0];
    return el ? textOf(el).trim() : undefined;
  };
  const all = (ns: string, local: string): string[] => childrenNamed(desc, ns, local).map((e) => textOf(e).trim());
  const ints = (local: string): number[] => all(NS.slterms, local).map(Number).filter((n) => Number.isInteger(n));
  const endorsementEl = childrenNamed(desc, NS.slreq, 'endorsement')[0];
  const bytes = first(NS.slreq, 'bytes');
  const entry: Entry = {
    identifier: first(NS.dcterms, 'identifier') ?? '',
    checksums: childrenNamed(desc, NS.slreq, 'checksum').map((c) => ({
      algorithm: textOfFirst(c, NS.slreq, 'algorithm'),
      value: textOfFirst(c, NS.slreq, 'value'),
    })),
    endorsement: endorsementEl ? readEndorsement(endorsementEl) : { issuers: [] },
    locations: all(NS.slterms, 'location').filter((l) => l !== ''),
    inboundPorts: ints('inbound-port'),
    outboundPorts: ints('outbound-port'),
    icmp: ints('icmp'),
  };
  const about = desc.getAttributeNS(NS.rdf, 'about');
  if (about) entry.about = about;
  if (bytes !== undefined && /^\d+$/.test(bytes)) entry.bytes = Number(bytes);
  const optional: Array<[keyof Entry, string, string]> = [
    ['type', NS.dcterms, 'type'], ['kind', NS.slterms, 'kind'], ['os', NS.slterms, 'os'],
    ['osVersion', NS.slterms, 'os-version'], ['osArch', NS.slterms, 'os-arch'], ['version', NS.slterms, 'version'],
    ['serialNumber', NS.slterms, 'serial-number'], ['format', NS.dcterms, 'format'], ['creator', NS.dcterms, 'creator'],
    ['created', NS.dcterms, 'created'], ['valid', NS.dcterms, 'valid'], ['title', NS.dcterms, 'title'],
    ['alternative', NS.dcterms, 'alternative'], ['description', NS.dcterms, 'description'],
    ['hypervisor', NS.slterms, 'hypervisor'], ['disksBus', NS.slterms, 'disks-bus'], ['publisher', NS.dcterms, 'publisher'],
    ['deprecated', NS.slterms, 'deprecated'],
  ];
  for (const [key, ns, local] of optional) {
    const v = first(ns, local);
    if (v !== undefined) (entry as unknown as Record<string, string>)[key] = v;
  }
  // upload-image writes slterms:compression where build-metadata writes dcterms:compression.
  const compression = first(NS.dcterms, 'compression') ?? first(NS.slterms, 'compression');
  if (compression !== undefined) entry.compression = compression;
  return entry;
}

function readEndorsement(el: Element): Endorsement {
  const e: Endorsement = { issuers: [] };
  const created = childrenNamed(el, NS.dcterms, 'created')[0];
  if (created) e.created = textOf(created).trim();
  const endorser = childrenNamed(el, NS.slreq, 'endorser')[0];
  if (endorser) {
    const email = childrenNamed(endorser, NS.slreq, 'email')[0];
    const subject = childrenNamed(endorser, NS.slreq, 'subject')[0];
    if (email) e.email = textOf(email).trim();
    if (subject) e.subject = textOf(subject).trim();
    e.issuers = childrenNamed(endorser, NS.slreq, 'issuer').map((i) => textOf(i).trim());
  }
  return e;
}

function textOfFirst(parent: Element, ns: string, local: string): string {
  const el = childrenNamed(parent, ns, local)[0];
  return el ? textOf(el).trim() : '';
}

/** The SHA-1 checksum value of an entry, if it has exactly one. */
export function sha1Of(entry: Entry): string | undefined {
  const found = entry.checksums.filter((c) => c.algorithm === 'SHA-1');
  return found.length === 1 ? found[0]?.value : undefined;
}

/** Children of the Description after the required block, for display of unknown elements. */
export function extensionElements(doc: Document): Element[] {
  const known = new Set<string>([NS.rdf, NS.dcterms, NS.slreq, NS.slterms]);
  return childElements(descriptionOf(doc)).filter((e) => !known.has(e.namespaceURI ?? ''));
}

/** The lower-cased text free-text search looks in: every descriptive field of the entry. */
export function searchableText(e: Entry): string {
  return [e.identifier, e.endorsement.email, e.os, e.osVersion, e.osArch, e.title, e.description, e.alternative, e.creator,
    e.kind, e.type, e.version, e.endorsement.subject, ...e.locations].filter(Boolean).join(' ').toLowerCase();
}
