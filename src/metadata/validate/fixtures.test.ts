import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parseXml } from '../xml/parse.js';
import { validateDocument } from './validate.js';
import type { CheckName } from './validate.js';
import { fixturePath } from '../../../test/helpers/paths.js';

const dir = fixturePath('stratuslab-metadata');
const load = (name: string) => parseXml(readFileSync(`${dir}/${name}`), { source: name });

/**
 * Why each invalid fixture must fail, from reference §10.1: the check that rejects it and
 * (a fragment of) the message. Unsigned fixtures also report "no signature" first.
 */
const invalid: Record<string, [CheckName, string]> = {
  'invalid-bad-about-id.xml': ['schema', 'rdf:about "#MMZu9WvwKIro-rtBQ" must be # followed by a 27-character identifier'],
  'invalid-bad-xml-base.xml': ['constraints', 'root element must have xml:base attribute with value http://mp.stratuslab.eu/'],
  'invalid-checksum-value.xml': ['schema', 'slreq:value "XYZ"'],
  'invalid-email.xml': ['schema', 'slreq:email "jane.tester_at_example.org" is not an e-mail address'],
  'invalid-inconsistent-checksum.xml': ['constraints', 'checksum from identifier (1113827081651840475597112894378558741689028636415) and SHA-1 checksum (1113827081651840475597112894378558741689028636414) are not consistent'],
  'invalid-multiple-os.xml': ['constraints', 'description must have at most 1 slterms:os element'],
  'invalid-multiple-versions.xml': ['constraints', 'description must have at most 1 slterms:version element'],
  'invalid-no-content.xml': ['schema', 'rdf:RDF must contain exactly one rdf:Description, found 0'],
  'invalid-no-endorsement.xml': ['schema', 'expected slreq:endorsement'],
  'invalid-rdf-resource.xml': ['rdf', 'property element ex:dummy contains 2 elements'],
  'invalid-valid-date-1.xml': ['constraints', 'dcterms:valid value (2011-01-24X09:59:42Z) is not a valid date'],
};

test('every fixture file is covered by this test', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.xml'));
  for (const f of files) {
    assert.ok(f.startsWith('valid-') || f in invalid, `no expectation for ${f}`);
  }
});

for (const [file, [check, fragment]] of Object.entries(invalid)) {
  test(`${file} is rejected by the ${check} check`, () => {
    const { findings } = validateDocument(load(file));
    const first = findings.find((f) => f.check !== 'signature');
    assert.ok(first, `${file}: expected a ${check} finding, got ${JSON.stringify(findings)}`);
    assert.equal(first.check, check, JSON.stringify(findings));
    assert.ok(first.message.includes(fragment), `${first.message} should contain ${fragment}`);
  });
}

for (const file of ['valid-minimal.xml', 'valid-full.xml']) {
  test(`${file} passes schema, constraints and RDF; the missing signature is its own finding`, () => {
    const { findings } = validateDocument(load(file));
    assert.deepEqual(findings, [{ check: 'signature', message: 'no signature' }]);
  });
}

test('valid-full-signature.xml (signed by the Java tool) verifies and has no findings', () => {
  const report = validateDocument(load('valid-full-signature.xml'));
  assert.deepEqual(report.findings, []);
  assert.equal(report.signature?.valid, true);
  assert.equal(report.signature?.certificate?.subject, 'CN=Jane Tester,OU=Testing Department,O=StratusLab Project,C=EU');
});

test('valid-full-signature.xml fails once one character of its description changes', () => {
  const text = readFileSync(`${dir}/valid-full-signature.xml`, 'utf8').replace('A 32-bit ttylinux', 'A 64-bit ttylinux');
  const report = validateDocument(parseXml(text));
  assert.equal(report.findings[0]?.check, 'signature');
  assert.equal(report.findings[0]?.message, "signature validation: truecontent (ref='') validity: false");
});

test('a time-zone offset in dcterms:valid is rejected (the server rule, appendix A.5)', () => {
  const text = readFileSync(`${dir}/valid-full.xml`, 'utf8').replace('2011-07-23T10:59:42Z', '2011-07-23T10:59:42+0200');
  const { findings } = validateDocument(parseXml(text));
  assert.ok(findings.some((f) => f.message === 'dcterms:valid value (2011-07-23T10:59:42+0200) is not a valid date'));
});

test('a bad endorsement date names its own value (the Java message showed dcterms:valid)', () => {
  const text = readFileSync(`${dir}/valid-full.xml`, 'utf8').replace('2011-01-24T09:59:42Z', '2011-01-24T99:59:42Z');
  const { findings } = validateDocument(parseXml(text));
  assert.ok(findings.some((f) => f.message === 'dcterms:created value (2011-01-24T99:59:42Z) is not a valid date'), JSON.stringify(findings));
});

test('rdf:parseType other than Resource fails the schema', () => {
  const text = readFileSync(`${dir}/valid-full.xml`, 'utf8').replace('<ex:relatedImages rdf:parseType="Resource">', '<ex:relatedImages rdf:parseType="Literal">');
  const { findings } = validateDocument(parseXml(text));
  assert.ok(findings.some((f) => f.check === 'schema' && f.message.includes('only "Resource" is allowed')));
});

test('a non-RDF attribute on a literal property element fails the RDF check (invalid-rdf-attribute)', () => {
  const text = readFileSync(`${dir}/valid-full.xml`, 'utf8').replace('<ex:other-info>', '<ex:other-info ex:note="x">');
  const { findings } = validateDocument(parseXml(text));
  assert.ok(findings.some((f) => f.check === 'rdf' && f.message.includes('cannot carry attribute ex:note')), JSON.stringify(findings));
});

test('an out-of-range inbound port fails the schema (invalid-bad-inbound-port)', () => {
  const text = readFileSync(`${dir}/valid-full.xml`, 'utf8').replace('<slterms:inbound-port>443', '<slterms:inbound-port>65536');
  const { findings } = validateDocument(parseXml(text));
  assert.ok(findings.some((f) => f.check === 'schema' && f.message.includes('slterms:inbound-port value "65536"')));
});
