import type { Element, Node } from '@xmldom/xmldom';
import { StratusError } from '../../domain/errors.js';
import { ELEMENT_NODE } from './dom.js';

/** An entry nests about six levels (seven inside its signature); 64 leaves room and bounds every walk. */
export const DEFAULT_MAX_XML_DEPTH = 64;

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const DQUOTE = 0x22;
const SQUOTE = 0x27;

/**
 * Refuses text whose elements nest deeper than `maxDepth`, before a DOM is built: a hostile
 * 100,000-level document then costs one scan instead of a DOM whose later walks overflow the
 * stack. Only markup is read: comments, CDATA sections and processing instructions are skipped
 * whole, and quoted attribute values may hold '>' or '/'. At markup that is not well-formed
 * the scan stops and returns false, for the parser to report it; should the parser accept it
 * after all, checkTreeDepth measures the tree instead.
 */
export function checkDepth(text: string, source: string, maxDepth: number): boolean {
  let depth = 0;
  let i = text.indexOf('<');
  while (i >= 0) {
    const next = text.charCodeAt(i + 1);
    let end: number;
    if (next === BANG) {
      end = text.startsWith('<!--', i) ? after(text, '-->', i + 4)
        : text.startsWith('<![CDATA[', i) ? after(text, ']]>', i + 9)
          : after(text, '>', i + 2);
    } else if (next === QUESTION) {
      end = after(text, '?>', i + 2);
    } else if (next === SLASH) {
      depth--;
      end = after(text, '>', i + 2);
    } else {
      const close = startTagEnd(text, i + 1);
      if (close < 0) return false;
      if (text.charCodeAt(close - 1) !== SLASH && ++depth > maxDepth) {
        const { line, column } = position(text, i);
        throw tooDeep(source, maxDepth, `level ${depth} opens at line ${line}, column ${column}`);
      }
      end = close + 1;
    }
    if (end < 0) return false;
    i = text.indexOf('<', end);
  }
  return true;
}

/** The same limit measured on a parsed tree, walked with an explicit stack. */
export function checkTreeDepth(root: Node, source: string, maxDepth: number): void {
  const stack: Array<[Node, number]> = [[root, 0]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [node, depth] = top;
    for (let c = node.firstChild; c; c = c.nextSibling) {
      if (c.nodeType !== ELEMENT_NODE) continue;
      if (depth + 1 > maxDepth) throw tooDeep(source, maxDepth, `<${(c as Element).tagName}> is at level ${depth + 1}`);
      stack.push([c, depth + 1]);
    }
  }
}

function tooDeep(source: string, maxDepth: number, where: string): StratusError {
  return new StratusError('XML_TOO_DEEP', `${source} nests elements more than ${maxDepth} levels deep (${where})`);
}

/** Index just past `marker` (searched from `from`), or -1 when it never comes. */
function after(text: string, marker: string, from: number): number {
  const at = text.indexOf(marker, from);
  return at < 0 ? -1 : at + marker.length;
}

/** Index of the '>' that closes a start tag, skipping quoted attribute values; -1 if none. */
function startTagEnd(text: string, from: number): number {
  let quote = 0;
  for (let j = from; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (quote !== 0) {
      if (c === quote) quote = 0;
    } else if (c === DQUOTE || c === SQUOTE) {
      quote = c;
    } else if (c === GT) {
      return j;
    } else if (c === LT) {
      return -1; // not well-formed: the parser says where
    }
  }
  return -1;
}

function position(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = text.indexOf('\n'); k >= 0 && k < index; k = text.indexOf('\n', k + 1)) {
    line++;
    lineStart = k + 1;
  }
  return { line, column: index - lineStart + 1 };
}
