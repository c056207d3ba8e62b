import type { Document, Element, Node } from '@xmldom/xmldom';
import { COMMENT_NODE, ELEMENT_NODE, PROCESSING_INSTRUCTION_NODE, elementPath, isElement, isXmlDeclaration, plainAttributes } from '../xml/dom.js';

/**
 * Namespaces a browser treats as live markup when it shows an XML document: their elements
 * (an XHTML script, an SVG or MathML element with handlers) run, and XLink/XML Events
 * attributes make links and handlers. No metadata entry needs any of them.
 */
const ACTIVE_NAMESPACES: Record<string, string> = {
  'http://www.w3.org/1999/xhtml': 'XHTML',
  'http://www.w3.org/2000/svg': 'SVG',
  'http://www.w3.org/1998/Math/MathML': 'MathML',
  'http://www.w3.org/1999/XSL/Transform': 'XSLT',
  'http://www.w3.org/1999/xlink': 'XLink',
  'http://www.w3.org/2001/xml-events': 'XML Events',
};

/** Enough to say what is wrong; a hostile document could otherwise make one per node. */
const MAX_FINDINGS = 10;

/**
 * What a signed entry may not hold, whatever its signature says: anything a browser would run
 * when it shows the stored XML (the listings serve it inline), and comments, which C14N without
 * comments leaves out of the signature, so their text would ride along unsigned. Entries are
 * refused, not cleaned: dropping a node would break the signature over the stored bytes.
 * Returns findings (at most ten); empty means none of it is there. `visit` sees every element
 * on the same walk, so other per-element checks cost no pass of their own.
 */
export function checkContent(doc: Document, visit?: (el: Element) => void): string[] {
  const findings: string[] = [];
  // An explicit stack of next siblings: no nesting overflows the call stack.
  const stack: Array<Node | null> = [doc.firstChild];
  while (stack.length > 0 && findings.length < MAX_FINDINGS) {
    const n = stack[stack.length - 1] as Node | null;
    if (!n) {
      stack.pop();
      continue;
    }
    stack[stack.length - 1] = n.nextSibling;
    if (n.nodeType === ELEMENT_NODE) {
      checkElement(n as Element, findings);
      visit?.(n as Element);
      stack.push(n.firstChild);
    } else if (n.nodeType === COMMENT_NODE) {
      findings.push(`comment ${where(n)}: comments are refused, since the signature (C14N without comments) does not cover their text`);
    } else if (n.nodeType === PROCESSING_INSTRUCTION_NODE && !isXmlDeclaration(n)) {
      const target = (n as unknown as { target: string }).target;
      findings.push(`processing instruction <?${target}?> ${where(n)}: processing instructions are refused (a browser applies <?xml-stylesheet?>)`);
    }
  }
  return findings.slice(0, MAX_FINDINGS);
}

function checkElement(el: Element, findings: string[]): void {
  const kind = ACTIVE_NAMESPACES[el.namespaceURI ?? ''];
  if (kind) {
    findings.push(`element ${el.tagName} (${kind} namespace) at ${elementPath(el)}: XHTML, SVG, MathML and XSLT elements are refused, since a browser showing the XML could run them`);
  }
  for (const a of plainAttributes(el)) {
    const attrKind = ACTIVE_NAMESPACES[a.namespaceURI ?? ''];
    const local = a.localName ?? a.name;
    if (/^on/i.test(local)) {
      findings.push(`event-handler attribute ${a.name} on ${elementPath(el)}: on* attributes are refused, since a browser could run them`);
    } else if (attrKind) {
      findings.push(`attribute ${a.name} (${attrKind} namespace) on ${elementPath(el)}: it is refused, since a browser could act on it`);
    } else if (isScriptUrl(a.value)) {
      findings.push(`attribute ${a.name} on ${elementPath(el)} holds a script URL ("${a.value.trim().slice(0, 40)}"), which is refused`);
    }
  }
}

/** A browser drops ASCII whitespace and controls from a URL before reading its scheme. */
function isScriptUrl(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^(?:javascript|vbscript):/i.test(value.replace(/[\u0000-\u0020]/g, ''));
}

function where(n: Node): string {
  const parent = n.parentNode;
  return parent && isElement(parent) ? `in ${elementPath(parent)}` : 'outside the root element';
}
