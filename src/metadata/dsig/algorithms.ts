/** XML-DSig algorithm URIs and how they map onto node:crypto. */
export const DSIG = {
  envelopedSignature: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha512: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512',
  dsaSha1: 'http://www.w3.org/2000/09/xmldsig#dsa-sha1',
  ecdsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256',
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha512: 'http://www.w3.org/2001/04/xmlenc#sha512',
} as const;

export interface SignatureAlgorithm {
  uri: string;
  hash: 'sha1' | 'sha256' | 'sha512';
  keyType: 'rsa' | 'dsa' | 'ec';
}

export const signatureAlgorithms: Record<string, SignatureAlgorithm> = {
  [DSIG.rsaSha1]: { uri: DSIG.rsaSha1, hash: 'sha1', keyType: 'rsa' },
  [DSIG.rsaSha256]: { uri: DSIG.rsaSha256, hash: 'sha256', keyType: 'rsa' },
  [DSIG.rsaSha512]: { uri: DSIG.rsaSha512, hash: 'sha512', keyType: 'rsa' },
  [DSIG.dsaSha1]: { uri: DSIG.dsaSha1, hash: 'sha1', keyType: 'dsa' },
  [DSIG.ecdsaSha256]: { uri: DSIG.ecdsaSha256, hash: 'sha256', keyType: 'ec' },
};

export const digestAlgorithms: Record<string, 'sha1' | 'sha256' | 'sha512'> = {
  [DSIG.sha1]: 'sha1',
  [DSIG.sha256]: 'sha256',
  [DSIG.sha512]: 'sha512',
};

/** The two choices users get when signing: RSA-SHA256 (default) or RSA-SHA1 for old verifiers. */
export type SigningAlgorithmName = 'rsa-sha256' | 'rsa-sha1';

export const signingProfiles: Record<SigningAlgorithmName, { signature: string; digest: string; hash: 'sha1' | 'sha256' }> = {
  'rsa-sha256': { signature: DSIG.rsaSha256, digest: DSIG.sha256, hash: 'sha256' },
  'rsa-sha1': { signature: DSIG.rsaSha1, digest: DSIG.sha1, hash: 'sha1' },
};

/** Base64 with a line break every 76 characters, as the Java signer writes it. */
export function mimeBase64(bytes: Buffer): string {
  return (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\n');
}
