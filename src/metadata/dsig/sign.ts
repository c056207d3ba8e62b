import { createHash, sign as cryptoSign } from 'node:crypto';
import type { Document, Element, Node } from '@xmldom/xmldom';
import { StratusError } from '../../domain/errors.js';
import { formatUtc } from '../../domain/dates.js';
import { COMMENT_NODE, NS, createUnprefixed, descendantsNamed } from '../xml/dom.js';
import { C14N, canonicalize } from '../xml/c14n.js';
import { DSIG, mimeBase64, signingProfiles } from './algorithms.js';
import type { SigningAlgorithmName } from './algorithms.js';
import { endorserEmail } from '../cert/credentials.js';
import type { SigningCredentials } from '../cert/credentials.js';

export interface SignOptions {
  credentials: SigningCredentials;
  /** Endorser e-mail used when the certificate has no e-mail SubjectAltName. */
  email?: string;
  /** RSA-SHA256 by default; RSA-SHA1 for verifiers of the StratusLab era. */
  algorithm?: SigningAlgorithmName;
  /** The endorsement time (default: now). */
  now?: Date;
}

/**
 * Signs a metadata document in place the way StratusLab's SignMetadata does (reference §5.2):
 * keep one endorsement and refill it from the certificate, drop old signatures (and comments,
 * which nothing signs), then append an enveloped XML-DSig as the last child of rdf:RDF.
 */
export function signDocument(doc: Document, options: SignOptions): void {
  const { credentials } = options;
  const email = endorserEmail(credentials.cert, options.email);
  const profile = signingProfiles[options.algorithm ?? 'rsa-sha256'];
  if (credentials.key.asymmetricKeyType !== 'rsa') {
    throw new StratusError('CERT_INVALID', `the signing key is ${credentials.key.asymmetricKeyType ?? 'unknown'}; Stratus signs with RSA keys`);
  }

  const endorsement = keepOneEndorsement(doc);
  for (const old of descendantsNamed(doc, NS.ds, 'Signature')) old.parentNode?.removeChild(old);
  dropComments(doc);
  fillEndorsement(doc, endorsement, {
    created: formatUtc(options.now ?? new Date()),
    email,
    subject: credentials.cert.subject,
    issuer: credentials.cert.issuer,
  });

  const root = doc.documentElement as Element;
  const digest = createHash(profile.hash).update(canonicalize(doc, { withComments: false }), 'utf8').digest('base64');
  const signature = buildSignature(doc, profile.signature, profile.digest, digest, credentials.cert.der);
  root.appendChild(signature);

  const signedInfo = signature.firstChild as Element;
  const bytes = Buffer.from(canonicalize(signedInfo, { withComments: true }), 'utf8');
  const value = cryptoSign(profile.hash, bytes, credentials.key);
  const valueEl = signedInfo.nextSibling as Element;
  valueEl.appendChild(doc.createTextNode(mimeBase64(value)));
}

/**
 * Comments are left out of what the signature covers (C14N without comments), so the
 * Marketplace refuses entries that hold any; the signer drops them, which changes no signed
 * byte. The walk keeps its own stack.
 */
function dropComments(doc: Document): void {
  const comments: Node[] = [];
  const stack: Node[] = [doc];
  for (let n = stack.pop(); n; n = stack.pop()) {
    for (let c = n.firstChild; c; c = c.nextSibling) {
      if (c.nodeType === COMMENT_NODE) comments.push(c);
      else if (c.firstChild) stack.push(c);
    }
  }
  for (const c of comments) c.parentNode?.removeChild(c);
}

function keepOneEndorsement(doc: Document): Element {
  const all = descendantsNamed(doc, NS.slreq, 'endorsement');
  const last = all[all.length - 1];
  if (!last) {
    throw new StratusError('METADATA_INVALID', 'document must contain exactly 1 slreq:endorsement element', {
      hint: 'Add <slreq:endorsement rdf:parseType="Resource"/> inside rdf:Description (stratus-build-metadata writes one).',
    });
  }
  for (const extra of all.slice(0, -1)) extra.parentNode?.removeChild(extra);
  while (last.firstChild) last.removeChild(last.firstChild);
  return last;
}

function fillEndorsement(doc: Document, endorsement: Element, v: { created: string; email: string; subject: string; issuer: string }): void {
  const created = createUnprefixed(doc, NS.dcterms, 'created');
  created.appendChild(doc.createTextNode(v.created));
  const endorser = createUnprefixed(doc, NS.slreq, 'endorser');
  endorser.setAttributeNS(NS.rdf, rdfPrefix(endorsement) + ':parseType', 'Resource');
  for (const [name, text] of [['email', v.email], ['subject', v.subject], ['issuer', v.issuer]] as const) {
    const child = doc.createElementNS(NS.slreq, name);
    child.appendChild(doc.createTextNode(text));
    endorser.appendChild(child);
  }
  endorsement.appendChild(created);
  endorsement.appendChild(endorser);
}

/** The prefix bound to the RDF namespace where the endorsement sits (normally "rdf"). */
function rdfPrefix(el: Element): string {
  const prefix = el.lookupPrefix(NS.rdf);
  if (!prefix) throw new StratusError('METADATA_INVALID', 'the RDF namespace is not declared where slreq:endorsement sits');
  return prefix;
}

function buildSignature(doc: Document, sigAlg: string, digestAlg: string, digest: string, certDer: Buffer): Element {
  const ds = (name: string, attrs: Record<string, string> = {}, ...children: Array<Element | string>): Element => {
    const el = doc.createElementNS(NS.ds, name);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    for (const c of children) el.appendChild(typeof c === 'string' ? doc.createTextNode(c) : c);
    return el;
  };
  const signature = ds('Signature', {},
    ds('SignedInfo', {},
      ds('CanonicalizationMethod', { Algorithm: C14N.inclusiveWithComments }),
      ds('SignatureMethod', { Algorithm: sigAlg }),
      ds('Reference', { URI: '' },
        ds('Transforms', {}, ds('Transform', { Algorithm: DSIG.envelopedSignature })),
        ds('DigestMethod', { Algorithm: digestAlg }),
        ds('DigestValue', {}, digest))),
    ds('SignatureValue'),
    ds('KeyInfo', {}, ds('X509Data', {}, ds('X509Certificate', {}, mimeBase64(certDer)))));
  signature.setAttributeNS(NS.xmlns, 'xmlns', NS.ds);
  return signature;
}
