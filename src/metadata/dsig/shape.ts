import type { Document, Element } from '@xmldom/xmldom';
import { StratusError } from '../../domain/errors.js';
import { NS, childElements, childrenNamed, descendantsNamed, isNamespaceDeclaration } from '../xml/dom.js';

const NO_CERTIFICATE_HINT = 'Sign with stratus-sign-metadata (or any XML-DSig tool set to embed the certificate, e.g. an empty '
  + '<X509Data/> in an xmlsec1 template): the certificate is what names the endorser.';
const SHAPE_HINT = 'Sign with stratus-sign-metadata or xmlsec1 without ds:Object, ds:Manifest or other KeyInfo content: '
  + 'outside SignedInfo nothing in ds:Signature is signed, so nothing else may ride there.';

/**
 * What a signature may hold beyond its signed part (reference §5.2: what StratusLab's Java
 * signer and xmlsec1 write). SignedInfo is covered by SignatureValue; everything else in
 * ds:Signature is not, so it is held to the one shape that carries the signer's certificate:
 *
 *   Signature → SignedInfo, SignatureValue, KeyInfo → X509Data → X509Certificate
 *
 * A bare RSAKeyValue names no endorser (anyone can claim any e-mail with their own key), a
 * ds:Object can carry markup a browser runs, and a second Signature or one nested away from
 * the root would make "the" signature ambiguous (checkSignaturePlacement). Only `Id`
 * attributes are allowed there.
 */
export function checkSignatureShape(sig: Element): void {
  const keyInfo = childrenNamed(sig, NS.ds, 'KeyInfo')[0];
  if (!keyInfo || descendantsNamed(keyInfo, NS.ds, 'X509Certificate').length === 0) {
    const has = keyInfo ? childElements(keyInfo).map((e) => e.tagName) : [];
    throw new StratusError('SIGNATURE_INVALID', `signature has no X.509 certificate: ${keyInfo ? `ds:KeyInfo holds ${has.length ? has.join(', ') : 'nothing'}` : 'ds:Signature has no ds:KeyInfo'}; `
      + 'Stratus needs the signer\'s certificate in ds:KeyInfo/ds:X509Data/ds:X509Certificate, since a bare key names no endorser', { hint: NO_CERTIFICATE_HINT });
  }
  onlyChildren(sig, ['SignedInfo', 'SignatureValue', 'KeyInfo']);
  onlyChildren(keyInfo, ['X509Data']);
  const x509Data = childElements(keyInfo)[0] as Element;
  onlyChildren(x509Data, ['X509Certificate']);
  for (const leaf of [childElements(sig)[1] as Element, childElements(x509Data)[0] as Element]) onlyChildren(leaf, []);
}

/**
 * An entry carries exactly one ds:Signature, as a child of its root element. `all` is every
 * ds:Signature of the document in document order (the caller found them on its own walk).
 */
export function checkSignaturePlacement(doc: Document, all: Element[]): void {
  const sig = all[0];
  if (!sig) throw invalid('no ds:Signature');
  if (all.length > 1) throw invalid(`found ${all.length} ds:Signature elements; an entry carries exactly one, as the last child of its root element`);
  if (sig.parentNode !== doc.documentElement) {
    throw invalid(`ds:Signature must be a child of the root element, not of ${(sig.parentNode as Element | null)?.tagName ?? 'the document'}`);
  }
}

/** The ds:X509Certificate of a signature that passed checkSignatureShape. */
export function signerCertificateElement(sig: Element): Element {
  const el = descendantsNamed(childrenNamed(sig, NS.ds, 'KeyInfo')[0] as Element, NS.ds, 'X509Certificate')[0];
  if (!el) throw invalid('signature has no X.509 certificate');
  return el;
}

/** `el` holds exactly the ds elements `names`, in order, whitespace between them, and only Id attributes. */
function onlyChildren(el: Element, names: string[]): void {
  const kids = childElements(el);
  const fits = kids.length === names.length && kids.every((k, i) => k.namespaceURI === NS.ds && k.localName === names[i]);
  if (!fits) {
    const allowed = names.length === 0 ? 'no elements' : `only ${names.map((n) => `ds:${n}`).join(', ')}${names.length > 1 ? ', in that order' : ''}`;
    throw invalid(`ds:${el.localName ?? ''} may hold ${allowed}; it holds ${kids.map((k) => k.tagName).join(', ')}`);
  }
  if (names.length > 0) {
    for (let c = el.firstChild; c; c = c.nextSibling) {
      if ((c.nodeType === 3 || c.nodeType === 4) && (c.nodeValue ?? '').trim() !== '') {
        throw invalid(`ds:${el.localName ?? ''} may not hold text ("${(c.nodeValue ?? '').trim().slice(0, 40)}")`);
      }
    }
  }
  for (let i = 0; i < el.attributes.length; i++) {
    const a = el.attributes.item(i);
    if (a && !isNamespaceDeclaration(a) && a.name !== 'Id') throw invalid(`ds:${el.localName ?? ''} may carry no attribute but Id; it has ${a.name}`);
  }
}

function invalid(message: string): StratusError {
  return new StratusError('SIGNATURE_INVALID', `invalid signature element: ${message}`, { hint: SHAPE_HINT });
}
