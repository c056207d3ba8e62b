import type { Document, Element } from '@xmldom/xmldom';
import { parseStrictUtc } from '../../domain/dates.js';
import { isIdentifier, sha1ValueFromIdentifier } from '../../domain/identifier.js';
import { MP_BASE, NS, childrenNamed, textOf } from '../xml/dom.js';

/**
 * StratusLab's ValidateMetadataConstraints (reference §4.3). The messages are the exact
 * strings the Java server returned, because old clients and scripts show or match them.
 * One deliberate change: a bad endorsement date names its own value (the Java code printed
 * dcterms:valid there; see docs/compat.md).
 */
export function checkConstraints(doc: Document): string[] {
  const findings: string[] = [];
  const root = doc.documentElement;
  if (!root) return ['document has no root element'];
  if (root.getAttributeNS(NS.xml, 'base') !== MP_BASE) {
    findings.push(`root element must have xml:base attribute with value ${MP_BASE}`);
  }
  const desc = childrenNamed(root, NS.rdf, 'Description')[0];
  if (!desc) return [...findings, 'description must have exactly 1 rdf:Description element'];

  const types = childrenNamed(desc, NS.dcterms, 'type');
  if (types.length !== 1) findings.push('description must have exactly 1 dcterms:type element');
  else if (hasElementChild(types[0] as Element)) findings.push('dcterms:type cannot have child elements');

  const sha1 = childrenNamed(desc, NS.slreq, 'checksum').filter((c) => text(c, NS.slreq, 'algorithm') === 'SHA-1');
  if (sha1.length !== 1) findings.push('description must have exactly 1 slterms:checksum element using SHA-1 algorithm');

  for (const name of ['serial-number', 'version', 'deprecated', 'os', 'os-arch', 'os-version']) {
    if (childrenNamed(desc, NS.slterms, name).length > 1) findings.push(`description must have at most 1 slterms:${name} element`);
  }

  const about = desc.getAttributeNS(NS.rdf, 'about') ?? '';
  const identifier = text(desc, NS.dcterms, 'identifier') ?? '';
  if (about !== `#${identifier}`) {
    findings.push(`rdf:about attribute (${about}) and dcterms:identifier (${identifier}) are not consistent`);
  }
  if (sha1.length === 1 && isIdentifier(identifier)) {
    const hex = text(sha1[0] as Element, NS.slreq, 'value') ?? '';
    const fromId = sha1ValueFromIdentifier(identifier);
    if (/^[0-9A-Fa-f]+$/.test(hex) && BigInt('0x' + hex) !== fromId) {
      findings.push(`checksum from identifier (${fromId}) and SHA-1 checksum (${BigInt('0x' + hex)}) are not consistent`);
    }
  }

  const valid = text(desc, NS.dcterms, 'valid');
  if (valid && !parseStrictUtc(valid)) findings.push(`dcterms:valid value (${valid}) is not a valid date`);
  const endorsement = childrenNamed(desc, NS.slreq, 'endorsement')[0];
  const created = endorsement ? text(endorsement, NS.dcterms, 'created') : undefined;
  if (created && !parseStrictUtc(created)) findings.push(`dcterms:created value (${created}) is not a valid date`);
  return findings;
}

function hasElementChild(el: Element): boolean {
  for (let c = el.firstChild; c; c = c.nextSibling) if (c.nodeType === 1) return true;
  return false;
}

function text(parent: Element, ns: string, local: string): string | undefined {
  const el = childrenNamed(parent, ns, local)[0];
  return el ? textOf(el).trim() : undefined;
}
