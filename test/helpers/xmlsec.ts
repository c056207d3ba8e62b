import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * xmlsec1 (libxmlsec1 on libxml2 and OpenSSL) is the independent oracle for C14N and XML-DSig.
 * It is required: a missing binary makes the calling test fail, it is never skipped.
 */
export const XMLSEC1 = 'xmlsec1';

export const DS_NS = 'http://www.w3.org/2000/09/xmldsig#';

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs xmlsec1 and returns its exit code and output; throws if it cannot be started at all. */
export function runXmlsec(args: string[]): ToolResult {
  const r = spawnSync(XMLSEC1, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw new Error(`${XMLSEC1} could not be run (${r.error.message}); it is required for these tests (apt-get install xmlsec1)`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh RSA key as PKCS#8 PEM in `dir`; its path. Enough for xmlsec1 --sign as a C14N oracle. */
export function writeRsaKey(dir: string, name = 'oracle-key.pem'): string {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(dir, name);
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  return file;
}

export interface TemplateOptions {
  /** CanonicalizationMethod of SignedInfo. */
  c14n: string;
  signatureMethod: string;
  digestMethod: string;
  /** Reference URI ("" for the whole document without comments, "#xpointer(/)" with them). */
  uri: string;
  /** Transform algorithms in order, each with an optional exc-c14n PrefixList. */
  transforms: Array<{ algorithm: string; prefixList?: string }>;
  /** Add an empty KeyInfo/X509Data for xmlsec1 to fill with the signer's certificate. */
  x509Data?: boolean;
  /** Write the Signature with this prefix instead of the default namespace. */
  prefix?: string;
}

/** An unsigned XML-DSig template (empty DigestValue and SignatureValue) for xmlsec1 --sign. */
export function signatureTemplate(o: TemplateOptions): string {
  const p = o.prefix ? `${o.prefix}:` : '';
  const decl = o.prefix ? `xmlns:${o.prefix}="${DS_NS}"` : `xmlns="${DS_NS}"`;
  const transforms = o.transforms.map((t) => {
    const incl = t.prefixList !== undefined
      ? `<InclusiveNamespaces xmlns="http://www.w3.org/2001/10/xml-exc-c14n#" PrefixList="${t.prefixList}"/>`
      : '';
    return `<${p}Transform Algorithm="${t.algorithm}">${incl}</${p}Transform>`;
  }).join('');
  return `<${p}Signature ${decl}><${p}SignedInfo><${p}CanonicalizationMethod Algorithm="${o.c14n}"/>`
    + `<${p}SignatureMethod Algorithm="${o.signatureMethod}"/>`
    + `<${p}Reference URI="${o.uri}"><${p}Transforms>${transforms}</${p}Transforms>`
    + `<${p}DigestMethod Algorithm="${o.digestMethod}"/><${p}DigestValue/></${p}Reference></${p}SignedInfo>`
    + `<${p}SignatureValue/>${o.x509Data ? `<${p}KeyInfo><${p}X509Data/></${p}KeyInfo>` : ''}</${p}Signature>`;
}

export interface XmlsecSignResult {
  /** The signed document as xmlsec1 wrote it. */
  signed: string;
  /** Each Reference's pre-digest octets: the canonical form xmlsec1 hashed. */
  preDigest: string[];
  /** The canonical SignedInfo xmlsec1 signed. */
  preSigned: string;
}

/**
 * Signs `xml` (which holds a template) with xmlsec1 and returns the signed text together with
 * the octets xmlsec1 canonicalised, read from --store-references/--store-signatures output.
 */
export function xmlsecSign(dir: string, xml: string, privkeyPem: string, extraArgs: string[] = []): XmlsecSignResult {
  const input = join(dir, 'xmlsec-template.xml');
  const output = join(dir, 'xmlsec-signed.xml');
  writeFileSync(input, xml);
  const r = runXmlsec(['--sign', '--privkey-pem', privkeyPem, ...extraArgs, '--store-references', '--store-signatures', '--print-debug', '--output', output, input]);
  if (r.status !== 0) throw new Error(`xmlsec1 --sign failed (exit ${r.status}):\n${r.stderr}`);
  return { signed: readFileSync(output, 'utf8'), preDigest: buffers(r.stdout, 'PreDigest'), preSigned: buffers(r.stdout, 'PreSigned')[0] ?? '' };
}

/** The debug buffers xmlsec1 prints as "== <kind> data - start buffer:\n…\n== <kind> data - end buffer". */
export function buffers(stdout: string, kind: 'PreDigest' | 'PreSigned'): string[] {
  const re = new RegExp(`== ${kind} data - start buffer:\\n([\\s\\S]*?)\\n== ${kind} data - end buffer`, 'g');
  return [...stdout.matchAll(re)].map((m) => m[1] ?? '');
}
