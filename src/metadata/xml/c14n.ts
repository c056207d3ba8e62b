import type { Attr, Element, Node } from '@xmldom/xmldom';
import {
  CDATA_SECTION_NODE, COMMENT_NODE, DOCUMENT_NODE, ELEMENT_NODE, NS, PROCESSING_INSTRUCTION_NODE, TEXT_NODE,
  inScopeNamespaces, isElement, isXmlDeclaration, ownNamespaceDeclarations, plainAttributes,
} from './dom.js';

/** Canonicalization algorithm URIs Stratus understands. */
export const C14N = {
  inclusive: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315',
  inclusiveWithComments: 'http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments',
  exclusive: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  exclusiveWithComments: 'http://www.w3.org/2001/10/xml-exc-c14n#WithComments',
} as const;

export interface C14nOptions {
  withComments?: boolean;
  /** Exclusive C14N (only visibly used namespaces are rendered). */
  exclusive?: boolean;
  /** Exclusive C14N InclusiveNamespaces PrefixList ('#default' for the default namespace). */
  inclusivePrefixes?: string[];
  /** Subtrees left out of the node-set (the enveloped-signature transform). */
  exclude?: (el: Element) => boolean;
}

export function c14nOptionsFor(algorithm: string): C14nOptions | undefined {
  switch (algorithm) {
    case C14N.inclusive: return { withComments: false };
    case C14N.inclusiveWithComments: return { withComments: true };
    case C14N.exclusive: return { withComments: false, exclusive: true };
    case C14N.exclusiveWithComments: return { withComments: true, exclusive: true };
    default: return undefined;
  }
}

/**
 * Canonical XML 1.0 (and Exclusive C14N) of a whole document or of one element's subtree.
 *
 * For an element whose ancestors are outside the node-set (SignedInfo in an enveloped
 * signature), inclusive C14N renders every namespace in scope AND copies the xml:* attributes
 * of its ancestors onto it. StratusLab signatures depend on the inherited
 * xml:base="http://mp.stratuslab.eu/" (reference §5.3), which xml-crypto leaves out.
 */
export function canonicalize(node: Node, options: C14nOptions = {}): string {
  const out: string[] = [];
  if (node.nodeType === DOCUMENT_NODE) {
    let seenRoot = false;
    for (let c = node.firstChild; c; c = c.nextSibling) {
      if (isElement(c)) {
        if (options.exclude?.(c)) continue;
        writeElement(c, options, out);
        seenRoot = true;
      } else if ((c.nodeType === COMMENT_NODE || c.nodeType === PROCESSING_INSTRUCTION_NODE) && !isXmlDeclaration(c)) {
        const piece = outsideNode(c, options);
        if (piece === undefined) continue;
        out.push(seenRoot ? '\n' + piece : piece + '\n');
      }
    }
  } else if (isElement(node)) {
    writeElement(node, options, out);
  } else {
    throw new Error('canonicalize: node must be a document or an element');
  }
  return out.join('');
}

function outsideNode(n: Node, options: C14nOptions): string | undefined {
  if (n.nodeType === COMMENT_NODE) return options.withComments ? `<!--${n.nodeValue ?? ''}-->` : undefined;
  const pi = n as unknown as { target: string; data: string };
  return pi.data ? `<?${pi.target} ${pi.data}?>` : `<?${pi.target}?>`;
}

/**
 * Writes an element's subtree. The walk keeps its own stack of open elements, so a hostile
 * document cannot overflow the call stack however deep it nests.
 */
function writeElement(root: Element, options: C14nOptions, out: string[]): void {
  const open: Array<{ el: Element; rendered: Map<string, string>; next: Node | null }> = [];
  open.push({ el: root, rendered: writeStartTag(root, new Map(), true, options, out), next: root.firstChild });
  while (open.length > 0) {
    const top = open[open.length - 1] as (typeof open)[number];
    const c = top.next;
    if (!c) {
      out.push('</', top.el.tagName, '>');
      open.pop();
      continue;
    }
    top.next = c.nextSibling;
    switch (c.nodeType) {
      case ELEMENT_NODE:
        if (!options.exclude?.(c as Element)) open.push({ el: c as Element, rendered: writeStartTag(c as Element, top.rendered, false, options, out), next: c.firstChild });
        break;
      case TEXT_NODE:
      case CDATA_SECTION_NODE:
        out.push(escapeText(c.nodeValue ?? ''));
        break;
      case COMMENT_NODE:
        if (options.withComments) out.push(`<!--${c.nodeValue ?? ''}-->`);
        break;
      case PROCESSING_INSTRUCTION_NODE:
        out.push(outsideNode(c, options) ?? '');
        break;
      default:
        break;
    }
  }
}

/**
 * Writes an element's start tag and returns the bindings its children see as rendered.
 * `rendered` holds the namespace bindings of the nearest output ancestor: for inclusive C14N
 * its whole in-scope set, for exclusive C14N only what was actually written.
 */
function writeStartTag(el: Element, rendered: Map<string, string>, apex: boolean, options: C14nOptions, out: string[]): Map<string, string> {
  const inScope = apex ? inScopeNamespaces(el) : mergeScope(rendered, el, options);
  const nsToWrite: Array<[string, string]> = [];
  let nextRendered: Map<string, string>;

  if (options.exclusive) {
    nextRendered = new Map(rendered);
    const scope = inScopeNamespaces(el);
    for (const prefix of visiblyUsedPrefixes(el, options)) {
      const uri = scope.get(prefix) ?? '';
      if (uri === '') {
        // Only the default namespace can be undeclared, and only needs undoing if an
        // output ancestor declared it.
        if (prefix === '' && (rendered.get('') ?? '') !== '') {
          nsToWrite.push(['', '']);
          nextRendered.set('', '');
        }
        continue;
      }
      if (rendered.get(prefix) === uri) continue;
      nsToWrite.push([prefix, uri]);
      nextRendered.set(prefix, uri);
    }
  } else {
    for (const [prefix, uri] of inScope) {
      if (prefix === 'xml') continue;
      if (prefix === '' && uri === '') {
        if ((rendered.get('') ?? '') !== '') nsToWrite.push(['', '']);
        continue;
      }
      if (!apex && rendered.get(prefix) === uri) continue;
      nsToWrite.push([prefix, uri]);
    }
    nextRendered = inScope;
  }
  nsToWrite.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

  const attrs = plainAttributes(el).map((a) => ({ ns: a.namespaceURI ?? '', local: a.localName ?? a.name, name: a.name, value: a.value }));
  if (apex && !options.exclusive) addInheritedXmlAttributes(el, attrs);
  attrs.sort((a, b) => (a.ns === b.ns ? cmp(a.local, b.local) : cmp(a.ns, b.ns)));

  out.push('<', el.tagName);
  for (const [prefix, uri] of nsToWrite) out.push(prefix ? ` xmlns:${prefix}="` : ' xmlns="', escapeAttr(uri), '"');
  for (const a of attrs) out.push(' ', a.name, '="', escapeAttr(a.value), '"');
  out.push('>');
  return nextRendered;
}

function mergeScope(parentScope: Map<string, string>, el: Element, options: C14nOptions): Map<string, string> {
  if (options.exclusive) return parentScope;
  const own = ownNamespaceDeclarations(el);
  if (own.size === 0) return parentScope;
  const scope = new Map(parentScope);
  for (const [p, u] of own) scope.set(p, u);
  return scope;
}

function visiblyUsedPrefixes(el: Element, options: C14nOptions): Set<string> {
  const used = new Set<string>();
  used.add(el.prefix ?? '');
  for (const a of plainAttributes(el)) if (a.prefix && a.prefix !== 'xml') used.add(a.prefix);
  const scope = inScopeNamespaces(el);
  for (const p of options.inclusivePrefixes ?? []) {
    const prefix = p === '#default' ? '' : p;
    if (scope.has(prefix)) used.add(prefix);
  }
  return used;
}

function addInheritedXmlAttributes(el: Element, attrs: Array<{ ns: string; local: string; name: string; value: string }>): void {
  for (let n = el.parentNode; n && isElement(n); n = n.parentNode) {
    for (const a of plainAttributes(n) as Attr[]) {
      if (a.namespaceURI !== NS.xml) continue;
      const local = a.localName ?? a.name.slice(4);
      if (attrs.some((x) => x.ns === NS.xml && x.local === local)) continue;
      attrs.push({ ns: NS.xml, local, name: a.name, value: a.value });
    }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function escapeText(s: string): string {
  return s.replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#xD;'));
}

export function escapeAttr(s: string): string {
  return s.replace(/[&<"\t\n\r]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '"' ? '&quot;' : c === '\t' ? '&#x9;' : c === '\n' ? '&#xA;' : '&#xD;');
}
