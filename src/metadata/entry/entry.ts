import type { Document, Element } from '@xmldom/xmldom';
import { StratusError } from '../../domain/errors.js';
import { ENTRY_FIELDS } from '../../domain/entry-fields.js';
import type { EntryField, EntryFields, EntryNamespace, EntryValues } from '../../domain/entry-fields.js';
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
 * The typed view of one metadata entry (reference §4.3): a property per field of the entry
 * schema (domain/entry-fields.ts). The signed document stays the source of truth; this view
 * is what search, listings and the CLI read. Fields a test adds to the table are read into
 * properties of the same name.
 */
export interface Entry extends EntryValues {
  identifier: string;
  about?: string;
  checksums: Checksum[];
  endorsement: Endorsement;
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

/** Reads the typed view of an entry. Missing one-valued elements stay undefined. */
export function readEntry(doc: Document, fields: EntryFields = ENTRY_FIELDS): Entry {
  const desc = descriptionOf(doc);
  // One pass over the description's children, grouped by element.
  const found = new Map<string, Element[]>();
  for (const el of childElements(desc)) {
    const key = `${el.namespaceURI ?? ''} ${el.localName ?? ''}`;
    const list = found.get(key);
    if (list) list.push(el);
    else found.set(key, [el]);
  }
  const elements = (ns: EntryNamespace, local: string): Element[] | undefined => found.get(`${NS[ns]} ${local}`);
  const entry: Record<string, unknown> = {};
  for (const f of fields) {
    const els = elements(f.ns, f.element) ?? (f.alias ? elements(f.alias.ns, f.alias.element) : undefined);
    const v = valueOf(f, els ?? []);
    if (v !== undefined) entry[f.name] = v;
  }
  const about = desc.getAttributeNS(NS.rdf, 'about');
  if (about) entry.about = about;
  return entry as unknown as Entry;
}

/** A field's value from its elements: undefined when a one-valued field is absent or unreadable. */
function valueOf(f: EntryField, els: Element[]): unknown {
  switch (f.type) {
    case 'checksum':
      return els.map((c) => ({ algorithm: textOfFirst(c, NS.slreq, 'algorithm'), value: textOfFirst(c, NS.slreq, 'value') }));
    case 'endorsement':
      return els[0] ? readEndorsement(els[0]) : { issuers: [] };
    default: {
      const texts = (f.cardinality === 'many' ? els : els.slice(0, 1)).map((e) => textOf(e).trim());
      const values = f.type === 'integer' ? texts.filter((t) => /^\d+$/.test(t)).map(Number) : texts;
      if (f.cardinality === 'many') return f.type === 'text' ? values.filter((v) => v !== '') : values;
      // The identifier is the entry's name: an entry without one reads as ''.
      return values[0] ?? (f.name === 'identifier' ? '' : undefined);
    }
  }
}

function readEndorsement(el: Element): Endorsement {
  const parts = endorsementParts(el);
  const e: Endorsement = { issuers: parts.issuers.map((i) => textOf(i).trim()) };
  if (parts.created) e.created = textOf(parts.created).trim();
  if (parts.email) e.email = textOf(parts.email).trim();
  if (parts.subject) e.subject = textOf(parts.subject).trim();
  return e;
}

/** The elements the endorsement of an entry is read from; each is the first of its name on its path. */
export interface EndorsementElements {
  endorsement?: Element;
  created?: Element;
  endorser?: Element;
  email?: Element;
  subject?: Element;
  issuers: Element[];
}

/**
 * The endorsement readEntry indexes: rdf:RDF / first rdf:Description / first
 * slreq:endorsement / first slreq:endorser / first slreq:email, slreq:subject, each
 * slreq:issuer. The endorser check compares exactly these with the certificate.
 */
export function endorsementElements(doc: Document): EndorsementElements {
  const root = doc.documentElement;
  const desc = root && root.namespaceURI === NS.rdf && root.localName === 'RDF' ? childrenNamed(root, NS.rdf, 'Description')[0] : undefined;
  const endorsement = desc ? childrenNamed(desc, NS.slreq, 'endorsement')[0] : undefined;
  return endorsement ? endorsementParts(endorsement) : { issuers: [] };
}

function endorsementParts(endorsement: Element): EndorsementElements {
  const parts: EndorsementElements = { endorsement, issuers: [] };
  const created = childrenNamed(endorsement, NS.dcterms, 'created')[0];
  if (created) parts.created = created;
  const endorser = childrenNamed(endorsement, NS.slreq, 'endorser')[0];
  if (!endorser) return parts;
  parts.endorser = endorser;
  const email = childrenNamed(endorser, NS.slreq, 'email')[0];
  const subject = childrenNamed(endorser, NS.slreq, 'subject')[0];
  if (email) parts.email = email;
  if (subject) parts.subject = subject;
  parts.issuers = childrenNamed(endorser, NS.slreq, 'issuer');
  return parts;
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

/** The lower-cased text free-text search looks in: every searchable field, the endorser's e-mail and subject. */
export function searchableText(e: Entry, fields: EntryFields = ENTRY_FIELDS): string {
  const values = e as unknown as Record<string, unknown>;
  const parts: unknown[] = fields.filter((f) => f.searchable).flatMap((f) => values[f.name]);
  parts.push(e.endorsement.email, e.endorsement.subject);
  return parts.filter(Boolean).join(' ').toLowerCase();
}
