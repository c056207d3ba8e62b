import { createHash, verify as cryptoVerify } from 'node:crypto';
import type { Document, Element } from '@xmldom/xmldom';
import { StratusError } from '../../domain/errors.js';
import { NS, childrenNamed, descendantsNamed, textOf } from '../xml/dom.js';
import { checkSignaturePlacement, checkSignatureShape, signerCertificateElement } from './shape.js';
import { c14nOptionsFor, canonicalize } from '../xml/c14n.js';
import type { C14nOptions } from '../xml/c14n.js';
import { DSIG, digestAlgorithms, signatureAlgorithms } from './algorithms.js';
import { certificateFromBase64 } from '../cert/certificate.js';
import type { CertInfo } from '../cert/certificate.js';

/** The outcome of XML-DSig core validation. */
export interface SignatureVerdict {
  /** Signature value and every reference digest check out. */
  valid: boolean;
  signatureValid: boolean;
  referencesValid: boolean;
  /** The signature method URI. */
  algorithm: string;
  /** The signer's certificate (KeyInfo must carry one). */
  certificate: CertInfo;
  /** Why validation failed, in StratusLab's words. */
  reason?: string;
}

/** The first ds:Signature in document order, as StratusLab's validator picks it. */
export function findSignature(doc: Document): Element | undefined {
  return descendantsNamed(doc, NS.ds, 'Signature')[0];
}

/**
 * Core validation (SignatureValue plus every Reference) of the one enveloped signature.
 * Throws SIGNATURE_MISSING when there is none and SIGNATURE_UNSUPPORTED / SIGNATURE_INVALID
 * when it cannot be checked at all, which includes a signature without an X.509 certificate
 * or with anything unsigned beside SignedInfo, SignatureValue and the certificate (shape.ts);
 * a signature that checks but fails comes back as a verdict.
 */
export function verifySignature(doc: Document): SignatureVerdict {
  const all = descendantsNamed(doc, NS.ds, 'Signature');
  const sig = all[0];
  if (!sig) throw new StratusError('SIGNATURE_MISSING', 'no signature');
  checkSignaturePlacement(doc, all);
  const signedInfo = one(sig, 'SignedInfo');
  one(sig, 'SignatureValue');
  checkSignatureShape(sig);
  const c14nAlg = one(signedInfo, 'CanonicalizationMethod').getAttribute('Algorithm') ?? '';
  const c14n = withPrefixList(one(signedInfo, 'CanonicalizationMethod'), c14nOptionsFor(c14nAlg));
  if (!c14n) throw new StratusError('SIGNATURE_UNSUPPORTED', `unsupported canonicalization method: ${c14nAlg}`);
  const sigAlgUri = one(signedInfo, 'SignatureMethod').getAttribute('Algorithm') ?? '';
  const sigAlg = lookup(signatureAlgorithms, sigAlgUri);
  if (!sigAlg) throw new StratusError('SIGNATURE_UNSUPPORTED', `unsupported signature method: ${sigAlgUri}`);

  const references = childrenNamed(signedInfo, NS.ds, 'Reference');
  if (references.length === 0) throw new StratusError('SIGNATURE_INVALID', 'invalid signature element: SignedInfo has no Reference');
  const refResults = references.map((ref) => ({ uri: ref.getAttribute('URI') ?? '', ok: checkReference(doc, sig, ref) }));
  const referencesValid = refResults.every((r) => r.ok);

  const certificate = certificateFromBase64(textOf(signerCertificateElement(sig)));
  const key = certificate.publicKey;
  const keyType = key.asymmetricKeyType;
  if (keyType !== sigAlg.keyType) {
    throw new StratusError('SIGNATURE_INVALID', `signature method ${sigAlgUri} does not match the ${keyType ?? 'unknown'} key in KeyInfo`);
  }
  const value = strictBase64(textOf(one(sig, 'SignatureValue')), 'SignatureValue');
  const signedBytes = Buffer.from(canonicalize(signedInfo, c14n), 'utf8');
  const signatureValid = cryptoVerify(sigAlg.hash, signedBytes, sigAlg.keyType === 'rsa' ? key : { key, dsaEncoding: 'ieee-p1363' }, value);

  const valid = signatureValid && referencesValid;
  const verdict: SignatureVerdict = { valid, signatureValid, referencesValid, algorithm: sigAlgUri, certificate };
  if (!valid) {
    // The exact text of StratusLab's ValidateXMLSignature, which old clients show to users.
    verdict.reason = `signature validation: ${signatureValid}` + refResults.map((r) => `content (ref='${r.uri}') validity: ${r.ok}`).join('');
  }
  return verdict;
}

/** Like verifySignature, but a failed check throws SIGNATURE_INVALID with the reason. */
export function assertValidSignature(doc: Document): SignatureVerdict {
  const verdict = verifySignature(doc);
  if (!verdict.valid) throw new StratusError('SIGNATURE_INVALID', verdict.reason ?? 'signature validation failed');
  return verdict;
}

function checkReference(doc: Document, sig: Element, ref: Element): boolean {
  const uri = ref.getAttribute('URI');
  if (uri !== '') {
    throw new StratusError('SIGNATURE_UNSUPPORTED', `unsupported Reference URI "${uri ?? '(none)'}": only URI="" (the whole document) is accepted`);
  }
  // URI="" selects the document without comments; a WithComments transform cannot add them back.
  let options: C14nOptions = { withComments: false };
  let enveloped = false;
  const transforms = childrenNamed(ref, NS.ds, 'Transforms')[0];
  for (const t of transforms ? childrenNamed(transforms, NS.ds, 'Transform') : []) {
    const alg = t.getAttribute('Algorithm') ?? '';
    if (alg === DSIG.envelopedSignature) {
      enveloped = true;
      continue;
    }
    const c = withPrefixList(t, c14nOptionsFor(alg));
    if (!c) throw new StratusError('SIGNATURE_UNSUPPORTED', `unsupported transform: ${alg}`);
    options = { ...c, withComments: false };
  }
  if (enveloped) options.exclude = (el) => el === sig;
  const digestUri = one(ref, 'DigestMethod').getAttribute('Algorithm') ?? '';
  const hash = lookup(digestAlgorithms, digestUri);
  if (!hash) throw new StratusError('SIGNATURE_UNSUPPORTED', `unsupported digest method: ${digestUri}`);
  const expected = textOf(one(ref, 'DigestValue')).replace(/\s+/g, '');
  const actual = createHash(hash).update(canonicalize(doc, options), 'utf8').digest('base64');
  return actual === expected;
}

function withPrefixList(method: Element, options: C14nOptions | undefined): C14nOptions | undefined {
  if (!options?.exclusive) return options;
  const incl = descendantsNamed(method, 'http://www.w3.org/2001/10/xml-exc-c14n#', 'InclusiveNamespaces')[0];
  const list = incl?.getAttribute('PrefixList')?.trim();
  return list ? { ...options, inclusivePrefixes: list.split(/\s+/) } : options;
}

/**
 * Decodes an XML-DSig base64Binary value. Whitespace is ignored; anything else must be exactly
 * the canonical base64 of the bytes. Node's decoder alone skips junk and stops at the first "=",
 * so "…ZA==" edited to "…ZA=X" decoded to the same signature and still verified.
 */
function strictBase64(text: string, what: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  const bytes = Buffer.from(compact, 'base64');
  if (bytes.toString('base64') !== compact) throw new StratusError('SIGNATURE_INVALID', `invalid signature element: ${what} is not valid base64`);
  return bytes;
}

/**
 * Own-property lookup: Algorithm="constructor" or "__proto__" must be "unsupported", not find a
 * member of Object.prototype (which crashed createHash with a TypeError).
 */
function lookup<T>(table: Record<string, T>, uri: string): T | undefined {
  return Object.hasOwn(table, uri) ? table[uri] : undefined;
}

function one(parent: Element, local: string): Element {
  const el = childrenNamed(parent, NS.ds, local)[0];
  if (!el) throw new StratusError('SIGNATURE_INVALID', `invalid signature element: missing ds:${local} in ds:${parent.localName}`);
  return el;
}
