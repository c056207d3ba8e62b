import { basename, dirname, join } from 'node:path';
import type { Document, Element, Node } from '@xmldom/xmldom';
import { DEFAULT_VALID_DAYS, newDraft } from '../../metadata/entry/build.js';
import type { EntryDraft } from '../../metadata/entry/build.js';
import { descriptionOf } from '../../metadata/entry/entry.js';
import { NS, TEXT_NODE, childrenNamed, textOf } from '../../metadata/xml/dom.js';
import type { DigestResult } from '../../platform/hashing.js';

/**
 * The metadata file upload-image reads (reference §1.2 step 4): the image name without
 * .gz/.bz2, with .img replaced by .xml. That is the name build-metadata writes for an image
 * named <os>-<osver>-<arch>-<type>-<ver>.img.
 */
export function metadataFileFor(image: string): string {
  const name = basename(image).replace(/\.(gz|bz2)$/, '');
  return join(dirname(image), name.endsWith('.img') ? name.replace(/\.img$/, '.xml') : `${name}.xml`);
}

/** os, os-version, arch, type and version from a name such as ttylinux-16.1-x86_64-base-1.0.img. */
function fieldsFromName(image: string): Pick<EntryDraft, 'os' | 'osVersion' | 'osArch' | 'type' | 'version'> | undefined {
  const m = /^([^-]+)-([^-]+)-([^-]+)-([^-]+)-(.+)\.img$/.exec(basename(image).replace(/\.(gz|bz2)$/, ''));
  if (!m) return undefined;
  const [, os = '', osVersion = '', osArch = '', type = '', version = ''] = m;
  return { os, osVersion, osArch, type, version };
}

/** The entry stratus-build-metadata would write for an image with these digests, with its defaults. */
export function draftFor(image: string, digests: DigestResult, compression: string, now = new Date()): EntryDraft {
  const named = fieldsFromName(image);
  // The rest as the template's defaults (domain/entry-fields.ts), as build-metadata would.
  return newDraft(digests, { ...named, compression, locations: [] }, DEFAULT_VALID_DAYS, now);
}

/**
 * Adds a slterms:location after the existing ones (or at the end of the description), unless
 * the entry lists it already. Every other element is kept as it is.
 */
export function addLocation(doc: Document, location: string): void {
  const desc = descriptionOf(doc);
  const existing = childrenNamed(desc, NS.slterms, 'location');
  if (existing.some((e) => textOf(e).trim() === location)) return;
  const el = createElement(doc, desc, NS.slterms, 'slterms', 'location', location);
  insertAfter(desc, el, existing[existing.length - 1] ?? compressionElements(desc).at(-1));
}

/**
 * Sets the compression of the file at the locations. build-metadata writes dcterms:compression
 * and StratusLab's upload-image wrote slterms:compression; whichever the entry has is updated,
 * so readers that look at either see the same value.
 */
export function setCompression(doc: Document, value: string): void {
  const desc = descriptionOf(doc);
  const found = compressionElements(desc);
  for (const el of found) {
    while (el.firstChild) el.removeChild(el.firstChild);
    el.appendChild(doc.createTextNode(value));
  }
  if (found.length === 0) {
    const el = createElement(doc, desc, NS.dcterms, 'dcterms', 'compression', value);
    insertAfter(desc, el, childrenNamed(desc, NS.slterms, 'version')[0]);
  }
}

function compressionElements(desc: Element): Element[] {
  return [...childrenNamed(desc, NS.dcterms, 'compression'), ...childrenNamed(desc, NS.slterms, 'compression')];
}

/** An element in `ns`, using the prefix in scope, or declaring `preferred` when none is. */
function createElement(doc: Document, context: Element, ns: string, preferred: string, local: string, text: string): Element {
  const prefix = context.lookupPrefix(ns);
  const el = doc.createElementNS(ns, `${prefix ?? preferred}:${local}`);
  if (prefix === null) el.setAttributeNS(NS.xmlns, `xmlns:${preferred}`, ns);
  el.appendChild(doc.createTextNode(text));
  return el;
}

/**
 * Inserts `el` after `ref` (or last), on a line of its own with the indentation the
 * description's children already use, so the file stays readable.
 */
function insertAfter(parent: Element, el: Element, ref: Element | undefined): void {
  const doc = parent.ownerDocument as Document;
  const indent = indentationOf(parent);
  if (ref) {
    const next = ref.nextSibling;
    parent.insertBefore(doc.createTextNode(indent), next);
    parent.insertBefore(el, next);
    return;
  }
  const last = parent.lastChild;
  if (last && isBlank(last)) {
    parent.insertBefore(doc.createTextNode(indent), last);
    parent.insertBefore(el, last);
  } else {
    parent.appendChild(doc.createTextNode(indent));
    parent.appendChild(el);
  }
}

/** The whitespace before the first child element ("\n    " in build-metadata's layout). */
function indentationOf(parent: Element): string {
  for (let c: Node | null = parent.firstChild; c; c = c.nextSibling) {
    if (isBlank(c)) return c.nodeValue ?? '\n';
    if (c.nodeType !== TEXT_NODE) break;
  }
  return '\n    ';
}

function isBlank(n: Node): boolean {
  return n.nodeType === TEXT_NODE && /^\s+$/.test(n.nodeValue ?? '');
}
