import type { CertInfo } from './cert/certificate.js';

/**
 * Optional Marketplace trust policy (off by default, as in StratusLab). When it lists
 * endorser DNs, the signer's RFC 2253 subject must be one of them; when it has a CA bundle,
 * the signer's certificate must chain to one of those CAs and every certificate on the way
 * must be within its validity dates.
 */
export interface TrustPolicy {
  endorsers?: string[];
  cas?: CertInfo[];
}

/** Returns why the policy refuses the signer, or undefined when it accepts. */
export function trustRejection(cert: CertInfo, policy: TrustPolicy, now: Date): string | undefined {
  if (policy.endorsers && policy.endorsers.length > 0 && !policy.endorsers.includes(cert.subject)) {
    return `trust policy: endorser "${cert.subject}" is not in the trusted endorser list`;
  }
  if (policy.cas && policy.cas.length > 0) return chainRejection(cert, policy.cas, now);
  return undefined;
}

function chainRejection(cert: CertInfo, cas: CertInfo[], now: Date): string | undefined {
  let current = cert;
  for (let depth = 0; depth < 8; depth++) {
    const dates = dateRejection(current, now);
    if (dates) return dates;
    if (cas.some((ca) => ca.der.equals(current.der))) return undefined;
    const issuer = cas.find((ca) => ca.subject === current.issuer && current.x509.checkIssued(ca.x509) && current.x509.verify(ca.publicKey));
    if (!issuer) {
      return `trust policy: certificate "${current.subject}" is not issued by a trusted CA (issuer "${current.issuer}")`;
    }
    if (issuer.subject === issuer.issuer) return dateRejection(issuer, now);
    current = issuer;
  }
  return 'trust policy: certificate chain is too long';
}

function dateRejection(cert: CertInfo, now: Date): string | undefined {
  if (now < cert.notBefore) return `trust policy: certificate "${cert.subject}" is not valid before ${cert.notBefore.toISOString()}`;
  if (now > cert.notAfter) return `trust policy: certificate "${cert.subject}" expired on ${cert.notAfter.toISOString()}`;
  return undefined;
}
