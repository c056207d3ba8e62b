import type { Document, Element, Node } from '@xmldom/xmldom';
import { CDATA_SECTION_NODE, COMMENT_NODE, ELEMENT_NODE, PROCESSING_INSTRUCTION_NODE, TEXT_NODE, isElement, isXmlDeclaration } from './dom.js';
import { escapeAttr, escapeText } from './c14n.js';

/** The declaration the StratusLab Java tools write, with the root right after it. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="no"?>';

/**
 * Writes a document as UTF-8 text: the declaration, then the root element on the same line.
 * Attribute order, prefixes and text are kept as they are, so that re-parsing gives the same
 * canonical form, which is what keeps a signature valid. Nodes outside the root are dropped,
 * apart from comments and processing instructions.
 */
export function serializeDocument(doc: Document): string {
  const out: string[] = [XML_DECLARATION];
  let seenRoot = false;
  for (let c = doc.firstChild; c; c = c.nextSibling) {
    if (isElement(c)) {
      writeNode(c, out);
      seenRoot = true;
    } else if ((c.nodeType === COMMENT_NODE || c.nodeType === PROCESSING_INSTRUCTION_NODE) && !isXmlDeclaration(c)) {
      if (seenRoot) out.push('\n');
      writeNode(c, out);
      if (!seenRoot) out.push('\n');
    }
  }
  return out.join('');
}

/** Writes one element (and its subtree) without any declaration. */
export function serializeElement(el: Element): string {
  const out: string[] = [];
  writeNode(el, out);
  return out.join('');
}

/** Writes a node and its subtree, with its own stack of open elements (no recursion). */
function writeNode(root: Node, out: string[]): void {
  const open: Array<{ el: Element; next: Node | null }> = [];
  let n: Node | null = root;
  while (n) {
    if (n.nodeType === ELEMENT_NODE) {
      const el = n as Element;
      out.push('<', el.tagName);
      for (let i = 0; i < el.attributes.length; i++) {
        const a = el.attributes.item(i);
        if (a) out.push(' ', a.name, '="', escapeAttr(a.value), '"');
      }
      if (el.firstChild) {
        out.push('>');
        open.push({ el, next: el.firstChild });
      } else {
        out.push('/>');
      }
    } else {
      writeLeaf(n, out);
    }
    n = null;
    while (!n && open.length > 0) {
      const top = open[open.length - 1] as (typeof open)[number];
      if (top.next) {
        n = top.next;
        top.next = n.nextSibling;
      } else {
        out.push('</', top.el.tagName, '>');
        open.pop();
      }
    }
  }
}

function writeLeaf(n: Node, out: string[]): void {
  switch (n.nodeType) {
    case TEXT_NODE:
    case CDATA_SECTION_NODE:
      out.push(escapeText(n.nodeValue ?? ''));
      return;
    case COMMENT_NODE:
      out.push(`<!--${n.nodeValue ?? ''}-->`);
      return;
    case PROCESSING_INSTRUCTION_NODE: {
      const pi = n as unknown as { target: string; data: string };
      out.push(pi.data ? `<?${pi.target} ${pi.data}?>` : `<?${pi.target}?>`);
      return;
    }
    default:
      return;
  }
}
