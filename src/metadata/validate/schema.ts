import type { Document, Element } from '@xmldom/xmldom';
import { NS, childElements, descendantElements, isElement, plainAttributes, textOf } from '../xml/dom.js';

/**
 * The checks of StratusLab's image-metadata.xsd (reference §4.3, "schema-required part"),
 * written out by hand because Node has no XSD validator. Returns every finding; an empty list
 * means the document is schema-valid. Messages name the element and say what was expected.
 */
export function checkSchema(doc: Document): string[] {
  const findings: string[] = [];
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== NS.rdf || root.localName !== 'RDF') {
    return [`schema: the root element must be rdf:RDF, found ${root?.tagName ?? 'none'}`];
  }
  if (!root.hasAttributeNS(NS.xml, 'base')) findings.push('schema: rdf:RDF must have an xml:base attribute');
  checkParseTypes(root, findings);

  const children = childElements(root);
  const descriptions = children.filter((e) => is(e, NS.rdf, 'Description'));
  const signatures = children.filter((e) => is(e, NS.ds, 'Signature'));
  const others = children.filter((e) => !descriptions.includes(e) && !signatures.includes(e));
  if (descriptions.length !== 1) findings.push(`schema: rdf:RDF must contain exactly one rdf:Description, found ${descriptions.length}`);
  if (signatures.length > 1) findings.push(`schema: rdf:RDF may contain at most one ds:Signature, found ${signatures.length}`);
  for (const o of others) findings.push(`schema: unexpected element ${o.tagName} in rdf:RDF (only rdf:Description and ds:Signature belong there)`);
  if (children[0] && signatures.includes(children[0]) && descriptions.length > 0) findings.push('schema: ds:Signature must come after rdf:Description');
  const desc = descriptions[0];
  if (desc) checkDescription(desc, findings);
  return findings;
}

const ID_RE = /^[A-Za-z0-9_-]{27}$/;
const HEX_RE = /^[A-Fa-f0-9]+$/;
const EMAIL_RE = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/;

function checkDescription(desc: Element, findings: string[]): void {
  const about = desc.getAttributeNS(NS.rdf, 'about');
  if (!about) findings.push('schema: rdf:Description must have an rdf:about attribute');
  else if (!/^#[A-Za-z0-9_-]{27}$/.test(about)) findings.push(`schema: rdf:about "${about}" must be # followed by a 27-character identifier`);

  const kids = childElements(desc);
  let i = 0;
  if (kids[i] && is(kids[i] as Element, NS.rdf, 'type')) i++;
  const expect = (ns: string, local: string, label: string): Element | undefined => {
    const el = kids[i];
    if (el && is(el, ns, local)) {
      i++;
      return el;
    }
    findings.push(`schema: expected ${label} at position ${i + 1} of rdf:Description, found ${el ? el.tagName : 'nothing'}`);
    return undefined;
  };
  const id = expect(NS.dcterms, 'identifier', 'dcterms:identifier');
  if (id && !ID_RE.test(textOf(id).trim())) findings.push(`schema: dcterms:identifier "${textOf(id).trim()}" is not a 27-character identifier`);
  const bytes = expect(NS.slreq, 'bytes', 'slreq:bytes');
  if (bytes) checkInteger(bytes, 0, Number.MAX_SAFE_INTEGER, findings);
  let checksums = 0;
  while (kids[i] && is(kids[i] as Element, NS.slreq, 'checksum')) {
    checkChecksum(kids[i] as Element, findings);
    checksums++;
    i++;
  }
  if (checksums === 0) findings.push(`schema: expected slreq:checksum at position ${i + 1} of rdf:Description, found ${kids[i]?.tagName ?? 'nothing'}`);
  const endorsement = expect(NS.slreq, 'endorsement', 'slreq:endorsement');
  if (endorsement) checkEndorsement(endorsement, findings);
  // The rest is "lax": anything goes, but known elements are type-checked wherever they sit.
  for (const el of kids.slice(i)) checkLax(el, findings);
}

function checkChecksum(el: Element, findings: string[]): void {
  requireResource(el, 'slreq:checksum', findings);
  const kids = childElements(el);
  const alg = kids[0];
  const value = kids[1];
  if (!alg || !is(alg, NS.slreq, 'algorithm') || !value || !is(value, NS.slreq, 'value') || kids.length !== 2) {
    findings.push('schema: slreq:checksum must contain slreq:algorithm then slreq:value');
    return;
  }
  const v = textOf(value).trim();
  if (!HEX_RE.test(v)) findings.push(`schema: slreq:value "${v}" of the ${textOf(alg).trim() || 'unnamed'} checksum is not hexadecimal`);
}

function checkEndorsement(el: Element, findings: string[]): void {
  requireResource(el, 'slreq:endorsement', findings);
  const kids = childElements(el);
  // An empty endorsement is what stratus-build-metadata writes; the signer fills it.
  if (kids.length === 0) return;
  const created = kids[0];
  const endorser = kids[1];
  if (!created || !is(created, NS.dcterms, 'created')) {
    findings.push('schema: slreq:endorsement must start with dcterms:created');
    return;
  }
  if (!endorser || !is(endorser, NS.slreq, 'endorser')) {
    findings.push('schema: slreq:endorsement must contain slreq:endorser after dcterms:created');
    return;
  }
  requireResource(endorser, 'slreq:endorser', findings);
  const e = childElements(endorser);
  const email = e[0];
  if (!email || !is(email, NS.slreq, 'email')) findings.push('schema: slreq:endorser must start with slreq:email');
  else if (!EMAIL_RE.test(textOf(email).trim())) findings.push(`schema: slreq:email "${textOf(email).trim()}" is not an e-mail address`);
  if (!e[1] || !is(e[1], NS.slreq, 'subject')) findings.push('schema: slreq:endorser must contain slreq:subject after slreq:email');
  const issuers = e.slice(2).filter((x) => is(x, NS.slreq, 'issuer'));
  if (issuers.length === 0 || issuers.length !== e.length - 2) findings.push('schema: slreq:endorser must end with one or more slreq:issuer');
}

/** Global elements the schema declares, checked even in the lax part. */
const LAX_INTEGERS: Record<string, [number, number]> = {
  'serial-number': [0, Number.MAX_SAFE_INTEGER],
  'inbound-port': [0, 65535],
  'outbound-port': [0, 65535],
  icmp: [0, 255],
};

function checkLax(top: Element, findings: string[]): void {
  for (const el of [top, ...descendantElements(top)]) {
    if (el.namespaceURI === NS.slterms && el.localName && LAX_INTEGERS[el.localName]) {
      const [min, max] = LAX_INTEGERS[el.localName] as [number, number];
      checkInteger(el, min, max, findings);
    }
    if (el.namespaceURI === NS.slreq && el.localName === 'checksum') checkChecksum(el, findings);
  }
}

function checkInteger(el: Element, min: number, max: number, findings: string[]): void {
  const v = textOf(el).trim();
  if (!/^\+?\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    findings.push(`schema: ${el.tagName} value "${v}" must be an integer from ${min} to ${max === Number.MAX_SAFE_INTEGER ? 'any size' : max}`);
  }
}

function requireResource(el: Element, label: string, findings: string[]): void {
  if (el.getAttributeNS(NS.rdf, 'parseType') !== 'Resource') findings.push(`schema: ${label} must have rdf:parseType="Resource"`);
}

/** Every rdf:parseType outside ds:Signature, in document order (an explicit stack, no recursion). */
function checkParseTypes(root: Element, findings: string[]): void {
  const stack: Element[] = [root];
  for (let node = stack.pop(); node; node = stack.pop()) {
    for (const a of plainAttributes(node)) {
      if (a.namespaceURI === NS.rdf && a.localName === 'parseType' && a.value !== 'Resource') {
        findings.push(`schema: ${node.tagName} has rdf:parseType="${a.value}"; only "Resource" is allowed`);
      }
    }
    for (let c = node.lastChild; c; c = c.previousSibling) if (isElement(c) && !is(c, NS.ds, 'Signature')) stack.push(c);
  }
}

function is(el: Element, ns: string, local: string): boolean {
  return el.namespaceURI === ns && el.localName === local;
}
