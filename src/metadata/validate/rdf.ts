import type { Attr, Document, Element } from '@xmldom/xmldom';
import { NS, childElements, isElement, plainAttributes } from '../xml/dom.js';

/**
 * The RDF/XML grammar check StratusLab ran with Sesame Rio (reference §4.3, "RDF check"),
 * on the document without its signature. It walks the striped syntax: node elements hold
 * property elements; a property element holds text, one node element, or, with
 * rdf:parseType, a resource/literal/collection. Returns findings; empty means it parses.
 */
export function checkRdf(doc: Document): string[] {
  const findings: string[] = [];
  const root = doc.documentElement;
  if (!root || !is(root, NS.rdf, 'RDF')) return ['RDF/XML: the root element must be rdf:RDF'];
  // A work list instead of recursion, so no nesting overflows the call stack. Each element's
  // children are pushed in reverse after its own findings, which keeps document order.
  const work: Work[] = [];
  later(work, 'node', childElements(root).filter((el) => !is(el, NS.ds, 'Signature')));
  for (let w = work.pop(); w; w = work.pop()) {
    if (w.kind === 'node') nodeElement(w.el, findings, work);
    else propertyElement(w.el, findings, work);
  }
  checkNoText(root, 'rdf:RDF', findings);
  return findings;
}

interface Work {
  kind: 'node' | 'property';
  el: Element;
}

function later(work: Work[], kind: Work['kind'], els: Element[]): void {
  for (let i = els.length - 1; i >= 0; i--) work.push({ kind, el: els[i] as Element });
}

const CORE_SYNTAX = new Set(['RDF', 'ID', 'about', 'parseType', 'resource', 'nodeID', 'datatype']);
const OLD_TERMS = new Set(['aboutEach', 'aboutEachPrefix', 'bagID']);

function nodeElement(el: Element, findings: string[], work: Work[]): void {
  if (!el.namespaceURI) findings.push(`RDF/XML: element ${el.tagName} has no namespace`);
  else if (el.namespaceURI === NS.rdf && (CORE_SYNTAX.has(el.localName ?? '') || OLD_TERMS.has(el.localName ?? '') || el.localName === 'li')) {
    findings.push(`RDF/XML: rdf:${el.localName} cannot be used as a node element`);
  }
  const ids = ['about', 'ID', 'nodeID'].filter((a) => el.hasAttributeNS(NS.rdf, a));
  if (ids.length > 1) findings.push(`RDF/XML: ${el.tagName} has more than one of rdf:about, rdf:ID, rdf:nodeID`);
  for (const a of rdfAttributes(el)) {
    if (!['about', 'ID', 'nodeID', 'type'].includes(a.localName ?? '')) findings.push(`RDF/XML: attribute ${a.name} is not allowed on node element ${el.tagName}`);
  }
  checkNoText(el, el.tagName, findings);
  later(work, 'property', childElements(el));
}

function propertyElement(el: Element, findings: string[], work: Work[]): void {
  const name = el.tagName;
  if (!el.namespaceURI) {
    findings.push(`RDF/XML: element ${name} has no namespace`);
    return;
  }
  if (el.namespaceURI === NS.rdf && (CORE_SYNTAX.has(el.localName ?? '') || OLD_TERMS.has(el.localName ?? '') || el.localName === 'Description')) {
    findings.push(`RDF/XML: rdf:${el.localName} cannot be used as a property element`);
  }
  const parseType = el.getAttributeNS(NS.rdf, 'parseType');
  const kids = childElements(el);
  const rdfAttrs = rdfAttributes(el).map((a) => a.localName ?? '');
  const propertyAttrs = plainAttributes(el).filter((a) => a.namespaceURI !== NS.rdf && a.namespaceURI !== NS.xml);

  if (parseType) {
    if (propertyAttrs.length > 0) findings.push(`RDF/XML: property element ${name} with rdf:parseType cannot carry attribute ${propertyAttrs[0]?.name}`);
    for (const a of rdfAttrs) if (!['parseType', 'ID'].includes(a)) findings.push(`RDF/XML: attribute rdf:${a} is not allowed with rdf:parseType on ${name}`);
    if (parseType === 'Resource') {
      checkNoText(el, name, findings);
      later(work, 'property', kids);
    } else if (parseType === 'Collection') {
      checkNoText(el, name, findings);
      later(work, 'node', kids);
    }
    // parseType="Literal" (or any other value, which RDF/XML treats as Literal) holds any XML.
    return;
  }
  if (kids.length > 1) {
    findings.push(`RDF/XML: property element ${name} contains ${kids.length} elements; nest them under rdf:parseType="Resource" or one rdf:Description`);
    return;
  }
  if (kids.length === 1) {
    for (const a of rdfAttrs) if (a !== 'ID') findings.push(`RDF/XML: attribute rdf:${a} is not allowed on ${name}, which holds a node element`);
    if (propertyAttrs.length > 0) findings.push(`RDF/XML: property element ${name} cannot carry attribute ${propertyAttrs[0]?.name} when it holds a node element`);
    checkNoText(el, name, findings);
    later(work, 'node', kids);
    return;
  }
  const hasText = (el.textContent ?? '').trim() !== '';
  if (hasText || rdfAttrs.includes('datatype')) {
    for (const a of rdfAttrs) if (!['ID', 'datatype'].includes(a)) findings.push(`RDF/XML: attribute rdf:${a} is not allowed on literal property element ${name}`);
    if (propertyAttrs.length > 0) findings.push(`RDF/XML: literal property element ${name} cannot carry attribute ${propertyAttrs[0]?.name}`);
    return;
  }
  // An empty property element: may point at a resource and carry property attributes.
  if (rdfAttrs.includes('resource') && rdfAttrs.includes('nodeID')) findings.push(`RDF/XML: ${name} has both rdf:resource and rdf:nodeID`);
  for (const a of rdfAttrs) if (!['ID', 'resource', 'nodeID'].includes(a)) findings.push(`RDF/XML: attribute rdf:${a} is not allowed on empty property element ${name}`);
}

function rdfAttributes(el: Element): Attr[] {
  return plainAttributes(el).filter((a) => a.namespaceURI === NS.rdf);
}

function checkNoText(el: Element, label: string, findings: string[]): void {
  for (let c = el.firstChild; c; c = c.nextSibling) {
    if (isElement(c)) continue;
    if ((c.nodeType === 3 || c.nodeType === 4) && (c.nodeValue ?? '').trim() !== '') {
      findings.push(`RDF/XML: ${label} cannot contain text ("${(c.nodeValue ?? '').trim().slice(0, 40)}")`);
      return;
    }
  }
}

function is(el: Element, ns: string, local: string): boolean {
  return el.namespaceURI === ns && el.localName === local;
}
