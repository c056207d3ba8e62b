/**
 * A self-signed certificate whose subjectAltName e-mail is whatever an attacker writes into
 * it (line breaks, lists, header text): the IA5String of rfc822Name takes any ASCII byte, and
 * stratus-generate-p12 would refuse to make one. node-forge plays the attacker's tool.
 */
import { generateKeyPairSync } from 'node:crypto';
import { forge } from '../../src/metadata/cert/forge.js';
import { readCertificate } from '../../src/metadata/cert/certificate.js';
import type { SigningCredentials } from '../../src/metadata/cert/credentials.js';

/** A DN as node-forge takes it: `[{ shortName: 'CN', value: 'Jane' }, …]`, most significant first. */
export type Names = Array<{ shortName: string; value: string }>;

/**
 * Self-signed with the attacker's own key, whatever `issuer` it names: a certificate that copies
 * a CA-issued one's subject and issuer DNs does not verify against that CA.
 */
export function certificateWithEmail(commonName: string, email: string, dns: { subject?: Names; issuer?: Names } = {}): SigningCredentials {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const f = forge();
  const cert = f.pki.createCertificate();
  cert.publicKey = f.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 30 * 86_400_000);
  const names = [{ shortName: 'C', value: 'EU' }, { shortName: 'O', value: 'Odd' }, { shortName: 'CN', value: commonName }];
  cert.setSubject(dns.subject ?? names);
  cert.setIssuer(dns.issuer ?? dns.subject ?? names);
  cert.setExtensions([{ name: 'subjectAltName', altNames: [{ type: 1, value: email }] }]);
  cert.sign(f.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()), f.md.sha256.create());
  return { key: privateKey, cert: readCertificate(f.pki.certificateToPem(cert)), chain: [] };
}
