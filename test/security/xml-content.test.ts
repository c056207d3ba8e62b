/**
 * Issue 8 §2 (stored XSS through XML listings), performed against a real `stratus serve`:
 * entries correctly signed with the attacker's own key that carry markup a browser would run
 * are refused at upload, and every XML answer tells browsers to run and sniff nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { signAsIs, unsigned } from '../helpers/forge.js';
import { postEntry, storedEntries } from '../helpers/upload.js';

const dir = tempDir('stratus-sec-xml-');
const mallory = makeSigner(dir, 'Mallory', 'mallory@example.org');
const server = await startServerProcess(join(dir, 'data'));

const XHTML = 'http://www.w3.org/1999/xhtml';
const SVG = 'http://www.w3.org/2000/svg';
const MATHML = 'http://www.w3.org/1998/Math/MathML';

/** A correctly signed entry of Mallory's with `fragment` at the end of rdf:Description (the schema's lax part). */
function hostileEntry(fragment: string): { xml: string; identifier: string } {
  const d = draft();
  const plain = unsigned(signedXml(mallory, d));
  const xml = signAsIs(plain.replace('</rdf:Description>', `${fragment}</rdf:Description>`), mallory.credentials);
  return { xml, identifier: d.identifier };
}

async function assertUnsafe(fragment: string, message: RegExp): Promise<void> {
  const { xml, identifier } = hostileEntry(fragment);
  const answer = await postEntry(server.url, xml);
  assert.equal(answer.status, 400, answer.body);
  assert.equal(answer.code, 'METADATA_UNSAFE', answer.body);
  assert.match(answer.message, message);
  assert.match(answer.body, /Remove the named node and sign the entry again/);
  assert.ok(!(await storedEntries(server.url)).some((e) => e.identifier === identifier), 'nothing was stored');
}

test('an XHTML script inside an unknown-namespace element is refused at upload', async () => {
  await assertUnsafe(`<ex:note xmlns:ex="urn:example:x" rdf:parseType="Resource"><html:script xmlns:html="${XHTML}">fetch('/users')</html:script></ex:note>`,
    /element html:script \(XHTML namespace\) at rdf:RDF\/rdf:Description\/ex:note\/html:script/);
});

test('XHTML in the default namespace is refused the same way', async () => {
  await assertUnsafe(`<ex:note xmlns:ex="urn:example:x" rdf:parseType="Resource"><img xmlns="${XHTML}" src="x" onerror="alert(1)"/></ex:note>`,
    /element img \(XHTML namespace\)/);
});

test('an SVG element with onload is refused at upload', async () => {
  await assertUnsafe(`<ex:pic xmlns:ex="urn:example:x" rdf:parseType="Resource"><svg:svg xmlns:svg="${SVG}" onload="alert(document.cookie)"/></ex:pic>`,
    /element svg:svg \(SVG namespace\)/);
});

test('a MathML element is refused at upload', async () => {
  await assertUnsafe(`<ex:note xmlns:ex="urn:example:x" rdf:parseType="Resource"><m:math xmlns:m="${MATHML}">x</m:math></ex:note>`,
    /element m:math \(MathML namespace\)/);
});

test('an event-handler attribute is refused on an element of an unknown namespace', async () => {
  await assertUnsafe('<ex:x xmlns:ex="urn:example:x" ex:onclick="alert(1)"/>', /event-handler attribute ex:onclick on rdf:RDF\/rdf:Description\/ex:x/);
});

test('a javascript: URL is refused, however it is spelled', async () => {
  await assertUnsafe('<ex:link xmlns:ex="urn:example:x" rdf:resource=" Java&#x09;Script:alert(1)"/>', /attribute rdf:resource on rdf:RDF\/rdf:Description\/ex:link holds a script URL/);
});

test('an entry with a harmless unknown-namespace element is still accepted', async () => {
  const { xml } = hostileEntry('<ex:note xmlns:ex="urn:example:x">built on the ACME farm</ex:note>');
  const answer = await postEntry(server.url, xml);
  assert.equal(answer.status, 201, answer.body);
});

test('every XML answer carries X-Content-Type-Options: nosniff and a CSP of default-src \'none\'', async () => {
  const d = draft({ alternative: 'xml-headers' });
  const upload = await postEntry(server.url, signedXml(mallory, d));
  assert.equal(upload.status, 201, upload.body);
  const entry = (await storedEntries(server.url)).find((e) => e.identifier === d.identifier);
  assert.ok(entry);
  const xml = { Accept: 'application/xml' };
  const answers: Array<[string, Record<string, string>]> = [
    ['/metadata?media=xml', {}],
    ['/metadata', xml],
    [`/metadata/${d.identifier}`, xml],
    [`/metadata/${d.identifier}?media=xml`, {}],
    [entry.path, xml],
    [`/tag/${mallory.email}/xml-headers`, xml],
    ['/endorsers', xml],
    [`/endorsers/${mallory.email}`, xml],
    ['/metadata/AAAAAAAAAAAAAAAAAAAAAAAAAAA?media=xml', {}],
  ];
  for (const [path, headers] of answers) {
    const res = await fetch(server.url + path, { headers });
    const type = res.headers.get('content-type') ?? '';
    assert.match(type, /xml/, `${path} answers XML (${res.status} ${type})`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    const csp = (res.headers.get('content-security-policy') ?? '').split(';').map((d) => d.trim());
    assert.ok(csp.includes("default-src 'none'"), `${path}: Content-Security-Policy is "${csp.join('; ')}"`);
    await res.arrayBuffer();
  }
});
