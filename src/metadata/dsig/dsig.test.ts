import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Element } from '@xmldom/xmldom';
import { verifySignature, assertValidSignature, findSignature } from './verify.js';
import { signDocument } from './sign.js';
import { DSIG } from './algorithms.js';
import { C14N } from '../xml/c14n.js';
import { parseXml } from '../xml/parse.js';
import { serializeDocument } from '../xml/serialize.js';
import { NS, childElements, descendantsNamed, textOf } from '../xml/dom.js';
import { buildEntryXml } from '../entry/build.js';
import { loadP12 } from '../cert/credentials.js';
import { validateDocument } from '../validate/validate.js';
import { StratusError, isStratusError } from '../../domain/errors.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { fixturePath } from '../../../test/helpers/paths.js';
import { draft, makeSigner, signedXml } from '../../../test/helpers/signing.js';

const JANE = 'CN=Jane Tester,OU=Testing Department,O=StratusLab Project,C=EU';
const dir = tempDir('stratus-dsig-');
const signer = makeSigner(dir);
const fixture = (name: string): string => readFileSync(fixturePath('stratuslab-metadata', name), 'utf8');

/** verifySignature on text: the verdict, or the StratusError it threw (anything else is a crash). */
function check(xml: string): { valid: boolean; code?: string; message: string } {
  try {
    const v = verifySignature(parseXml(xml));
    return { valid: v.valid, message: v.reason ?? 'valid' };
  } catch (e) {
    if (!isStratusError(e)) throw e;
    return { valid: false, code: e.code, message: e.message };
  }
}

function expectCode(xml: string, code: string, message?: RegExp | string): void {
  assert.throws(() => verifySignature(parseXml(xml)), (e: unknown) => {
    assert.ok(e instanceof StratusError, `a StratusError, not ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

test('the StratusLab-signed fixture verifies: signature value and reference digest, signer Jane Tester', () => {
  // Why: it was signed by the Java tool; if it fails, we are not interoperable (reference §5.3).
  const v = verifySignature(parseXml(fixture('valid-full-signature.xml')));
  assert.equal(v.signatureValid, true);
  assert.equal(v.referencesValid, true);
  assert.equal(v.valid, true);
  assert.equal(v.algorithm, DSIG.rsaSha1);
  assert.equal(v.certificate?.subject, JANE);
  assert.equal(v.certificate?.issuer, JANE);
  assert.equal(v.reason, undefined);
});

for (const algorithm of ['rsa-sha256', 'rsa-sha1'] as const) {
  test(`sign → serialize → parse → verify round trip with ${algorithm}`, () => {
    // Why: both profiles are offered to users (rsa-sha1 for StratusLab-era verifiers); the
    // serialized text, not the in-memory DOM, is what gets uploaded.
    const text = signedXml(signer, draft(), algorithm === 'rsa-sha256' ? {} : { algorithm });
    const doc = parseXml(text);
    const v = assertValidSignature(doc);
    assert.equal(v.algorithm, algorithm === 'rsa-sha256' ? DSIG.rsaSha256 : DSIG.rsaSha1);
    const digest = descendantsNamed(doc, NS.ds, 'DigestMethod')[0]?.getAttribute('Algorithm');
    assert.equal(digest, algorithm === 'rsa-sha256' ? DSIG.sha256 : DSIG.sha1);
    assert.equal(v.certificate?.subject, signer.subject);
    assert.deepEqual(validateDocument(doc).findings, [], 'endorser, schema, constraints and RDF checks pass too');
  });
}

test('rsa-sha256 is the default signature method', () => {
  // Why: the default is a deliberate departure from StratusLab's rsa-sha1; pin it.
  const doc = parseXml(buildEntryXml(draft()));
  signDocument(doc, { credentials: signer.credentials });
  assert.equal(descendantsNamed(doc, NS.ds, 'SignatureMethod')[0]?.getAttribute('Algorithm'), DSIG.rsaSha256);
});

test('signing with StratusLab\'s own test.p12 gives the fixture\'s endorser and a valid signature', () => {
  // Why: the legacy P12 and the Jane Tester DN are the ones every StratusLab fixture uses.
  const credentials = loadP12(fixturePath('stratuslab-metadata', 'test.p12'), 'XYZXYZ');
  const doc = parseXml(fixture('valid-full.xml'));
  signDocument(doc, { credentials, algorithm: 'rsa-sha1' });
  const reparsed = parseXml(serializeDocument(doc));
  assert.equal(assertValidSignature(reparsed).certificate?.subject, JANE);
  assert.equal(textOf(descendantsNamed(reparsed, NS.slreq, 'subject')[0]!), JANE);
  assert.deepEqual(validateDocument(reparsed).findings, []);
});

test('the signed output has the shape of reference §5.2', () => {
  // Why: old verifiers and diff-minded users see these bytes; every rule of §5.2 is checked here.
  const now = new Date('2024-05-06T07:08:09.123Z');
  const text = signedXml(signer, draft(), { now });
  const doc = parseXml(text);
  const root = doc.documentElement!;

  assert.ok(text.startsWith('<?xml version="1.0" encoding="UTF-8" standalone="no"?><rdf:RDF '), 'declaration, then the root on the same line');
  const signature = findSignature(doc)!;
  assert.equal(root.lastChild, signature, 'Signature is the last child of rdf:RDF');
  assert.ok(text.includes('</rdf:Description>\n<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>'), 'after the existing whitespace, default namespace, no prefix');
  assert.ok(text.endsWith('</Signature></rdf:RDF>'), 'nothing between </Signature> and </rdf:RDF>');
  assert.equal(signature.prefix ?? null, null);

  const sigText = text.slice(text.indexOf('<Signature'), text.indexOf('</Signature>'));
  const withoutBase64 = sigText.replace(/<(SignatureValue|X509Certificate)>[^<]*</g, '<$1><');
  assert.doesNotMatch(withoutBase64, /\s</, 'no whitespace inside the Signature apart from base64 line breaks');
  for (const name of ['SignatureValue', 'X509Certificate']) {
    const lines = textOf(descendantsNamed(signature, NS.ds, name)[0]!).split('\n');
    assert.ok(lines.every((l) => l.length <= 76), `${name} wraps at 76 characters`);
  }

  const signedInfo = descendantsNamed(signature, NS.ds, 'SignedInfo')[0]!;
  assert.deepEqual(childElements(signedInfo).map((e) => e.localName), ['CanonicalizationMethod', 'SignatureMethod', 'Reference']);
  assert.equal(childElements(signedInfo)[0]!.getAttribute('Algorithm'), C14N.inclusiveWithComments);
  const refs = descendantsNamed(signedInfo, NS.ds, 'Reference');
  assert.equal(refs.length, 1);
  assert.equal(refs[0]!.getAttribute('URI'), '');
  const transforms = descendantsNamed(refs[0]!, NS.ds, 'Transform');
  assert.deepEqual(transforms.map((t) => t.getAttribute('Algorithm')), [DSIG.envelopedSignature]);
  assert.deepEqual(childElements(signature).map((e) => e.localName), ['SignedInfo', 'SignatureValue', 'KeyInfo']);
  const certB64 = textOf(descendantsNamed(signature, NS.ds, 'X509Certificate')[0]!).replace(/\s+/g, '');
  assert.deepEqual(Buffer.from(certB64, 'base64'), signer.credentials.cert.der, 'KeyInfo holds the signer certificate only');

  const endorsements = descendantsNamed(doc, NS.slreq, 'endorsement');
  assert.equal(endorsements.length, 1);
  const cert = signer.credentials.cert;
  assert.ok(text.includes('<slreq:endorsement rdf:parseType="Resource">'
    + '<created xmlns="http://purl.org/dc/terms/">2024-05-06T07:08:09Z</created>'
    + '<endorser xmlns="http://mp.stratuslab.eu/slreq#" rdf:parseType="Resource">'
    + `<email>${signer.email}</email><subject>${cert.subject}</subject><issuer>${cert.issuer}</issuer>`
    + '</endorser></slreq:endorsement>'), text);
});

test('signing twice keeps exactly one Signature and one endorsement, refilled', () => {
  // Why: re-signing an edited, already signed file is the normal workflow (§5.2 step 3).
  const once = signedXml(signer, draft(), { now: new Date('2024-01-01T00:00:00Z') });
  const twice = signedXml(signer, once, { now: new Date('2024-02-02T00:00:00Z'), algorithm: 'rsa-sha1' });
  const doc = parseXml(twice);
  assert.equal(descendantsNamed(doc, NS.ds, 'Signature').length, 1);
  assert.equal(descendantsNamed(doc, NS.slreq, 'endorsement').length, 1);
  const created = descendantsNamed(doc, NS.dcterms, 'created').filter((e) => (e.parentNode as Element).localName === 'endorsement');
  assert.deepEqual(created.map(textOf), ['2024-02-02T00:00:00Z']);
  assert.equal(descendantsNamed(doc, NS.slreq, 'endorser').length, 1);
  assert.equal(assertValidSignature(doc).algorithm, DSIG.rsaSha1);
  assert.ok(!twice.includes('</Signature>\n<Signature'), 'the old Signature is gone, not kept next to the new one');
});

test('signing drops comments, which nothing would sign and the Marketplace refuses', () => {
  // Why: templates often carry comments; an entry signed with them was refused at upload.
  const commented = buildEntryXml(draft()).replace('<dcterms:type>', '<!-- the image type --><dcterms:type>').replace('<rdf:RDF', '<!-- header --><rdf:RDF');
  const text = signedXml(signer, commented);
  assert.ok(!text.includes('<!--'), text);
  assert.deepEqual(validateDocument(parseXml(text)).findings, []);
});

test('signing a document with several endorsements keeps only the last one', () => {
  // Why: StratusLab removes all but the last endorsement (§5.2 step 2); keeping the first, or
  // both, would give a different entry and a schema error.
  const base = buildEntryXml(draft());
  const stale = '<slreq:endorsement rdf:parseType="Resource"><dcterms:created>2000-01-01T00:00:00Z</dcterms:created>'
    + '<slreq:endorser rdf:parseType="Resource"><slreq:email>old@example.org</slreq:email></slreq:endorser></slreq:endorsement>';
  const xml = base.replace('<slreq:endorsement rdf:parseType="Resource"/>', stale)
    .replace(/(<dcterms:type>[^<]*<\/dcterms:type>\n)/, '$1    <slreq:endorsement rdf:parseType="Resource"><dcterms:created>2001-01-01T00:00:00Z</dcterms:created></slreq:endorsement>\n');
  assert.equal(parseXml(xml).getElementsByTagName('slreq:endorsement').length, 2, 'test input has two endorsements');
  const text = signedXml(signer, xml);
  const doc = parseXml(text);
  const endorsements = descendantsNamed(doc, NS.slreq, 'endorsement');
  assert.equal(endorsements.length, 1);
  let prev = endorsements[0]!.previousSibling;
  while (prev && prev.nodeType !== 1) prev = prev.previousSibling;
  assert.equal((prev as Element | null)?.tagName, 'dcterms:type', 'the survivor is the last one (after dcterms:type)');
  assert.ok(!text.includes('old@example.org') && !text.includes('2000-01-01') && !text.includes('2001-01-01'), 'old contents are gone');
  assert.equal(verifySignature(doc).valid, true);
});

test('a document without any endorsement cannot be signed', () => {
  // Why: StratusLab's exact message (§5.2 step 4) is what users search for.
  const doc = parseXml(buildEntryXml(draft()).replace('<slreq:endorsement rdf:parseType="Resource"/>', ''));
  assert.throws(() => signDocument(doc, { credentials: signer.credentials }), /document must contain exactly 1 slreq:endorsement element/);
});

test('changing any one byte inside rdf:RDF of a signed document makes verification fail', () => {
  // Why: §5.2 "everything outside the Signature element is covered by the digest"; and
  // SignedInfo and SignatureValue are covered by the RSA signature. KeyInfo is not signed
  // (a byte in the certificate's own signature would go unnoticed) and base64 whitespace is
  // ignored by design, so both are left out.
  const text = signedXml(signer, draft({ description: 'Line one & <two>', alternative: 'alt' }));
  const start = text.indexOf('<rdf:RDF');
  const keyInfoStart = text.indexOf('<KeyInfo>');
  const keyInfoEnd = text.indexOf('</KeyInfo>') + '</KeyInfo>'.length;
  const sigStart = text.indexOf('<Signature');
  assert.ok(start > 0 && sigStart > start && keyInfoStart > sigStart && keyInfoEnd > keyInfoStart);

  const landmarks: Record<string, number> = {
    'element text': text.indexOf('>', text.indexOf('<dcterms:title>')) + 1,
    'attribute value': text.indexOf('rdf:about="#') + 'rdf:about="#'.length + 3,
    'xml:base on the root': text.indexOf('xml:base="') + 'xml:base="'.length + 8,
    'namespace URI on the root': text.indexOf('xmlns:slterms="') + 'xmlns:slterms="'.length + 10,
    'whitespace between elements': text.indexOf('\n', text.indexOf('<rdf:Description')),
    'whitespace before the Signature': sigStart - 1,
    'inside the Description (escaped text)': text.indexOf('&amp;'),
    'endorsement e-mail': text.indexOf(signer.email) + 2,
    'endorsement subject': text.indexOf('<subject>') + '<subject>'.length + 4,
    'endorsement created': text.indexOf('<created xmlns="http://purl.org/dc/terms/">') + 45,
    'SignedInfo DigestValue': text.indexOf('<DigestValue>') + '<DigestValue>'.length + 5,
    'SignedInfo Algorithm': text.indexOf('Algorithm="', text.indexOf('<SignatureMethod')) + 20,
    'SignatureValue': text.indexOf('<SignatureValue>') + '<SignatureValue>'.length + 10,
  };

  let candidates = 0;
  let tested = 0;
  const testedAt = new Set<number>();
  for (let i = start; i < text.length; i++) {
    if (i >= keyInfoStart && i < keyInfoEnd) continue;
    const c = text[i]!;
    if (i > sigStart && /\s/.test(c)) continue; // base64 line breaks
    candidates++;
    const mutated = text.slice(0, i) + (c === 'X' ? 'Y' : 'X') + text.slice(i + 1);
    try {
      parseXml(mutated);
    } catch (e) {
      if (isStratusError(e, 'XML_MALFORMED')) continue; // no longer XML: nothing to verify
      throw e;
    }
    tested++;
    testedAt.add(i);
    const r = check(mutated);
    assert.equal(r.valid, false, `byte ${i} (${JSON.stringify(text.slice(Math.max(0, i - 20), i))}[${c}]${JSON.stringify(text.slice(i + 1, i + 20))}) changed, yet the signature verifies`);
  }
  for (const [what, at] of Object.entries(landmarks)) {
    assert.ok(testedAt.has(at), `${what} (offset ${at}, ${JSON.stringify(text.slice(at - 5, at + 5))}) was mutated and tested`);
  }
  assert.ok(tested > candidates * 0.5, `most positions were tested: ${tested} of ${candidates}`);
});

test('">SHA-1<" changed to ">SHA-2<" after signing fails the reference check (StratusLab test)', () => {
  // Why: ported from StratusLab's own signature tests; the message is the Java validator's.
  const text = signedXml(signer, draft());
  assert.ok(text.includes('>SHA-1<'));
  const v = verifySignature(parseXml(text.replace('>SHA-1<', '>SHA-2<')));
  assert.equal(v.valid, false);
  assert.equal(v.signatureValid, true, 'SignedInfo is untouched');
  assert.equal(v.referencesValid, false);
  assert.equal(v.reason, "signature validation: truecontent (ref='') validity: false");
});

test('an empty <Signature/> gives a clear SIGNATURE_INVALID error, also through validateDocument', () => {
  // Why: §5.4 "an empty <Signature/> gives invalid signature element"; it must never be a crash.
  const xml = buildEntryXml(draft()).replace('</rdf:RDF>', '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"/></rdf:RDF>');
  expectCode(xml, 'SIGNATURE_INVALID', /^invalid signature element: missing ds:SignedInfo/);
  const findings = validateDocument(parseXml(xml)).findings.filter((f) => f.check === 'signature');
  assert.equal(findings.length, 1);
  assert.match(findings[0]!.message, /^invalid signature element/);
});

test('a document without a signature gives SIGNATURE_MISSING "no signature"', () => {
  // Why: the exact code and message the Marketplace answers an unsigned upload with (§5.4).
  const xml = buildEntryXml(draft());
  expectCode(xml, 'SIGNATURE_MISSING', 'no signature');
  assert.deepEqual(validateDocument(parseXml(xml)).findings.filter((f) => f.check === 'signature'), [{ check: 'signature', message: 'no signature' }]);
});

test('unsupported algorithms and reference forms give SIGNATURE_UNSUPPORTED', () => {
  // Why: an algorithm we cannot check must be reported as such, not as a bad signature.
  const text = signedXml(signer, draft());
  const cases: Array<[string, string, RegExp]> = [
    [DSIG.rsaSha256, 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256', /unsupported signature method/],
    [DSIG.sha256, 'http://www.w3.org/2001/04/xmldsig-more#md5', /unsupported digest method/],
    [C14N.inclusiveWithComments, 'http://www.w3.org/2006/12/xml-c14n11', /unsupported canonicalization method/],
    [DSIG.envelopedSignature, 'http://www.w3.org/TR/1999/REC-xpath-19991116', /unsupported transform/],
    ['URI=""', 'URI="#other"', /unsupported Reference URI/],
  ];
  for (const [from, to, message] of cases) {
    assert.ok(text.includes(from), from);
    expectCode(text.replace(from, to), 'SIGNATURE_UNSUPPORTED', message);
  }
});

test('regression: algorithm URIs named like Object.prototype members are unsupported, not a TypeError', () => {
  // Why: the algorithm tables were plain objects, so DigestMethod Algorithm="constructor"
  // found Object and createHash threw a TypeError that escaped validateDocument (a crash on
  // upload), and SignatureMethod "toString" was reported as a key mismatch.
  const text = signedXml(signer, draft());
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
    const badDigest = text.replace(DSIG.sha256, name);
    expectCode(badDigest, 'SIGNATURE_UNSUPPORTED', `unsupported digest method: ${name}`);
    expectCode(text.replace(DSIG.rsaSha256, name), 'SIGNATURE_UNSUPPORTED', `unsupported signature method: ${name}`);
    assert.deepEqual(validateDocument(parseXml(badDigest)).findings.filter((f) => f.check === 'signature'),
      [{ check: 'signature', message: `unsupported digest method: ${name}` }]);
  }
});

test('regression: a SignatureValue edited after its base64 padding, or in its pad bits, no longer verifies', () => {
  // Why: the verifier decoded SignatureValue with Node's lenient base64, which stops at the
  // first "=" and drops the unused low bits, so "…ZA==" edited to "…ZA=X" (or "…ZB==") gave the
  // same bytes and still verified: a byte of rdf:RDF changed without failing. xmlsec1 refuses it.
  const text = signedXml(signer, draft());
  const end = text.indexOf('</SignatureValue>');
  assert.equal(text.slice(end - 2, end), '==', 'a 2048-bit RSA signature ends with "=="');
  const junkAfterPadding = text.slice(0, end - 1) + 'X' + text.slice(end);
  expectCode(junkAfterPadding, 'SIGNATURE_INVALID', 'invalid signature element: SignatureValue is not valid base64');

  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const last = alphabet.indexOf(text[end - 3]!);
  const padBits = text.slice(0, end - 3) + alphabet[last ^ 1]! + text.slice(end - 2); // flips an unused low bit
  assert.notEqual(padBits, text);
  expectCode(padBits, 'SIGNATURE_INVALID', 'invalid signature element: SignatureValue is not valid base64');
  assert.equal(verifySignature(parseXml(text)).valid, true, 'the unedited text still verifies');
});
