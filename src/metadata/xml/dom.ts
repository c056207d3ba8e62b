import type { Attr, Document, Element, Node } from '@xmldom/xmldom';

/** Namespace URIs of reference §4.1 and the XML-DSig core. */
export const NS = {
  rdf: 'http://www.w3.org/1999/02/22-rdf-syntax-ns#',
  dcterms: 'http://purl.org/dc/terms/',
  slreq: 'http://mp.stratuslab.eu/slreq#',
  slterms: 'http://mp.stratuslab.eu/slterms#',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xml: 'http://www.w3.org/XML/1998/namespace',
  xmlns: 'http://www.w3.org/2000/xmlns/',
} as const;

/** The xml:base every entry must carry (reference §4.1). */
export const MP_BASE = 'http://mp.stratuslab.eu/';

export const ELEMENT_NODE = 1;
export const ATTRIBUTE_NODE = 2;
export const TEXT_NODE = 3;
export const CDATA_SECTION_NODE = 4;
export const PROCESSING_INSTRUCTION_NODE = 7;
export const COMMENT_NODE = 8;
export const DOCUMENT_NODE = 9;
export const DOCUMENT_TYPE_NODE = 10;

export function isElement(n: Node | null | undefined): n is Element {
  return !!n && n.nodeType === ELEMENT_NODE;
}

/** Element children of a node, in document order. */
export function childElements(node: Node): Element[] {
  const out: Element[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (isElement(c)) out.push(c);
  return out;
}

/** Element children in namespace `ns` with local name `local`. */
export function childrenNamed(node: Node, ns: string, local: string): Element[] {
  return childElements(node).filter((e) => e.namespaceURI === ns && e.localName === local);
}

/** All descendant elements (depth first, document order) named ns:local. */
export function descendantsNamed(node: Node, ns: string, local: string): Element[] {
  const out: Element[] = [];
  for (const el of descendantElements(node)) if (el.namespaceURI === ns && el.localName === local) out.push(el);
  return out;
}

/**
 * Every descendant element in document order. The walk keeps its own stack, so no document
 * (however deep an attacker nests it) can overflow the call stack.
 */
export function* descendantElements(node: Node): Generator<Element> {
  // The stack holds the next sibling to visit at each open level.
  const stack: Array<Node | null> = [node.firstChild];
  while (stack.length > 0) {
    const c = stack[stack.length - 1] as Node | null;
    if (!c) {
      stack.pop();
      continue;
    }
    stack[stack.length - 1] = c.nextSibling;
    if (!isElement(c)) continue;
    yield c;
    stack.push(c.firstChild);
  }
}

/** Concatenated text content of an element (text and CDATA). */
export function textOf(el: Element): string {
  return el.textContent ?? '';
}

/** Attributes that are not namespace declarations. */
export function plainAttributes(el: Element): Attr[] {
  const out: Attr[] = [];
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i);
    if (a && !isNamespaceDeclaration(a)) out.push(a);
  }
  return out;
}

export function isNamespaceDeclaration(a: Attr): boolean {
  return a.name === 'xmlns' || a.name.startsWith('xmlns:');
}

/** Namespace declarations made on this element itself: prefix ('' for default) → URI. */
export function ownNamespaceDeclarations(el: Element): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i);
    if (!a) continue;
    if (a.name === 'xmlns') out.set('', a.value);
    else if (a.name.startsWith('xmlns:')) out.set(a.name.slice(6), a.value);
  }
  return out;
}

/** Every namespace binding in scope at `el` (nearest declaration wins). */
export function inScopeNamespaces(el: Element): Map<string, string> {
  const chain: Element[] = [];
  for (let n: Node | null = el; n && isElement(n); n = n.parentNode) chain.push(n);
  const out = new Map<string, string>();
  for (let i = chain.length - 1; i >= 0; i--) {
    for (const [p, u] of ownNamespaceDeclarations(chain[i] as Element)) out.set(p, u);
  }
  return out;
}

/**
 * Creates an element in `ns`, written without a prefix and with its own default-namespace
 * declaration, as the StratusLab Java signer does (`<created xmlns="http://purl.org/dc/terms/">`).
 */
export function createUnprefixed(doc: Document, ns: string, local: string): Element {
  const el = doc.createElementNS(ns, local);
  el.setAttributeNS(NS.xmlns, 'xmlns', ns);
  return el;
}

/** xmldom keeps the XML declaration as a processing instruction; it is not part of the infoset. */
export function isXmlDeclaration(n: Node): boolean {
  return n.nodeType === PROCESSING_INSTRUCTION_NODE && (n as unknown as { target: string }).target.toLowerCase() === 'xml';
}

/** The owner document of a node (the node itself for a Document). */
export function ownerDocument(node: Node): Document {
  return (node.nodeType === DOCUMENT_NODE ? node : node.ownerDocument) as Document;
}

/** Where an element sits, as its ancestors' tag names from the root ("rdf:RDF/rdf:Description/…"). */
export function elementPath(el: Element): string {
  const names: string[] = [];
  for (let n: Node | null = el; n && isElement(n); n = n.parentNode) names.push(n.tagName);
  return names.reverse().join('/');
}
