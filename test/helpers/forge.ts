/**
 * What an attacker does with their own key: sign a document exactly as it stands (no signer
 * rewriting the endorsement from a certificate), with whatever KeyInfo and extra content in
 * ds:Signature they like. The signatures are cryptographically valid; only the server's own
 * rules can refuse them.
 */
import { createHash, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Element } from '@xmldom/xmldom';
import { parseXml } from '../../src/metadata/xml/parse.js';
import { C14N, canonicalize } from '../../src/metadata/xml/c14n.js';
import { NS, descendantsNamed } from '../../src/metadata/xml/dom.js';
import { DSIG } from '../../src/metadata/dsig/algorithms.js';
import type { SigningCredentials } from '../../src/metadata/cert/credentials.js';
import type { UploadVerifier } from '../../src/marketplace/verifier.js';
import { readEntry } from '../../src/metadata/entry/entry.js';

/** KeyInfo with a bare RSA public key and no certificate. */
export function rsaKeyValue(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  const b64 = (v: string | undefined): string => Buffer.from(v ?? '', 'base64url').toString('base64');
  return `<KeyInfo><KeyValue><RSAKeyValue><Modulus>${b64(jwk.n)}</Modulus><Exponent>${b64(jwk.e)}</Exponent></RSAKeyValue></KeyValue></KeyInfo>`;
}

/** KeyInfo with the signer's certificate, as StratusLab's signer writes it. */
export function x509KeyInfo(credentials: SigningCredentials): string {
  return `<KeyInfo><X509Data><X509Certificate>${credentials.cert.der.toString('base64')}</X509Certificate></X509Data></KeyInfo>`;
}

/** Removes the enveloped signature from signed text, leaving every other byte as it was. */
export function unsigned(xml: string): string {
  return xml.replace(/<Signature xmlns="http:\/\/www\.w3\.org\/2000\/09\/xmldsig#">[\s\S]*<\/Signature>/, '');
}

export interface ForgeOptions {
  /** The ds:KeyInfo element, as text (default: the certificate of `credentials`). */
  keyInfo?: string;
  /** Elements appended inside ds:Signature after KeyInfo, as text. */
  extra?: string;
}

/**
 * Signs `xml` (which must carry no signature) with `credentials.key`, leaving its content
 * untouched: RSA-SHA256, inclusive C14N, one enveloped Reference URI="".
 */
export function signAsIs(xml: string, credentials: SigningCredentials, o: ForgeOptions = {}): string {
  // The attacker's own tools set no depth limit.
  const parse = (text: string) => parseXml(text, { maxDepth: Number.POSITIVE_INFINITY });
  const digest = createHash('sha256').update(canonicalize(parse(xml), { withComments: false }), 'utf8').digest('base64');
  const placeholder = 'SIGNATURE-VALUE-PLACEHOLDER';
  const signature = `<Signature xmlns="${NS.ds}"><SignedInfo><CanonicalizationMethod Algorithm="${C14N.inclusive}"/>`
    + `<SignatureMethod Algorithm="${DSIG.rsaSha256}"/><Reference URI=""><Transforms><Transform Algorithm="${DSIG.envelopedSignature}"/></Transforms>`
    + `<DigestMethod Algorithm="${DSIG.sha256}"/><DigestValue>${digest}</DigestValue></Reference></SignedInfo>`
    + `<SignatureValue>${placeholder}</SignatureValue>${o.keyInfo ?? x509KeyInfo(credentials)}${o.extra ?? ''}</Signature>`;
  const end = xml.lastIndexOf('</rdf:RDF>');
  if (end < 0) throw new Error('signAsIs: no </rdf:RDF> in the document');
  const withSignature = xml.slice(0, end) + signature + xml.slice(end);
  const signedInfo = descendantsNamed(parse(withSignature), NS.ds, 'SignedInfo')[0] as Element;
  const value = sign('sha256', Buffer.from(canonicalize(signedInfo, { withComments: false }), 'utf8'), credentials.key).toString('base64');
  return withSignature.replace(placeholder, value);
}

/**
 * A verifier that checks nothing: with it the Marketplace stores whatever it is given, as a
 * store filled before today's checks existed (or written some other way) would hold it.
 */
export function uncheckedVerifier(): UploadVerifier {
  return {
    verify: async (body) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      return { entry: readEntry(parseXml(text)), text, trust: { trusted: false } };
    },
    close: async () => undefined,
  };
}
