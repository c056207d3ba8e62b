import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DOMParser } from '@xmldom/xmldom';
import type { Document, Element } from '@xmldom/xmldom';
import { isStratusError } from '../../domain/errors.js';
import { DEFAULT_MAX_XML_DEPTH, checkDepth, checkTreeDepth } from './depth.js';
import { parseXml } from './parse.js';
import { canonicalize } from './c14n.js';
import { descendantElements } from './dom.js';
import { serializeDocument } from './serialize.js';
import { checkContent } from '../validate/content.js';

const nested = (levels: number, inner = ''): string => '<a>'.repeat(levels) + inner + '</a>'.repeat(levels);

function tooDeep(fn: () => unknown, where: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isStratusError(e), `a StratusError, not ${String(e)}`);
    assert.equal(e.code, 'XML_TOO_DEEP');
    assert.match(e.message, where);
    return true;
  });
}

test('the limit is 64 levels: 64 parse, 65 are refused with where the 65th opens', () => {
  assert.equal(DEFAULT_MAX_XML_DEPTH, 64);
  assert.equal(parseXml(nested(64)).documentElement?.tagName, 'a');
  tooDeep(() => parseXml(`<r>\n  ${nested(64)}</r>`, { source: 'upload' }), /^upload nests elements more than 64 levels deep \(level 65 opens at line 2, column 192\)$/);
});

test('100,000 nested elements are refused before a DOM is built, without exhausting the stack', () => {
  tooDeep(() => parseXml(nested(100_000)), /level 65 opens/);
});

test('empty elements, comments, CDATA, processing instructions and quoted ">" or "/>" do not count as levels', () => {
  const noise = '<e/><!-- <a><a> --><![CDATA[<a><a>]]><?pi <a>?><b x="/>" y=\'>\'></b>';
  assert.equal(checkDepth(nested(63, noise.repeat(50)), 'doc', 64), true);
  tooDeep(() => checkDepth(`<a><b x="/>"><c>${nested(2)}</c></b></a>`, 'doc', 4), /level 5 opens/);
});

test('markup the scan cannot follow is left to the parser, which reports it', () => {
  assert.equal(checkDepth('<a><b x="unterminated></a>', 'doc', 64), false);
  assert.throws(() => parseXml('<a><b x="unterminated></a>'), /XML_MALFORMED|unable to parse/);
});

test('the tree check measures a parsed DOM the same way', () => {
  const doc = new DOMParser().parseFromString(nested(65), 'text/xml') as unknown as Document;
  tooDeep(() => checkTreeDepth(doc, 'doc', 64), /<a> is at level 65/);
  checkTreeDepth(new DOMParser().parseFromString(nested(64), 'text/xml') as unknown as Document, 'doc', 64);
});

test('C14N, serialisation and the element walks hold 100,000 levels a DOM was built with (no recursion)', () => {
  // Built by hand: parseXml would refuse it, and these walks must not depend on that alone.
  const doc = new DOMParser().parseFromString('<a/>', 'text/xml') as unknown as Document;
  let el = doc.documentElement as Element;
  for (let i = 0; i < 100_000; i++) el = el.appendChild(doc.createElement('a')) as Element;
  assert.equal(canonicalize(doc).length, 100_001 * 7);
  assert.equal(serializeDocument(doc).endsWith('<a/>' + '</a>'.repeat(100_000)), true);
  assert.equal([...descendantElements(doc)].length, 100_001);
  assert.deepEqual(checkContent(doc), []);
});
