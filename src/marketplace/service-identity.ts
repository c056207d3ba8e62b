import { hostname } from 'node:os';
import { join } from 'node:path';
import { keptP12 } from '../metadata/cert/kept-p12.js';
import type { SigningCredentials } from '../metadata/cert/credentials.js';
import { parseXml } from '../metadata/xml/parse.js';
import { serializeDocument } from '../metadata/xml/serialize.js';
import { signDocument } from '../metadata/dsig/sign.js';
import type { ServiceEndorser } from './marketplace.js';

/** The names the service identity is made with (`[server] identity_name`, `identity_email`). */
export interface ServiceNames {
  commonName: string;
  email: string;
}

/** The default names: this server's host, so drafts from two sites are told apart. */
export function defaultServiceNames(host = hostname()): ServiceNames {
  const name = host.replace(/[^A-Za-z0-9.-]/g, '-') || 'localhost';
  return { commonName: `stratus service ${name}`, email: `stratus-service@${name}` };
}

/** The server's own signing identity, and what it signs drafts with. */
export interface ServiceIdentity {
  credentials: SigningCredentials;
  endorser: ServiceEndorser;
  /** Signs an entry (unsigned or signed) as the service: the endorsement is refilled from its certificate. */
  sign(xml: Buffer | string): string;
}

/**
 * The service identity: a self-signed P12 kept in <data-dir>/service/ (0600, made once, as the
 * builder's), which signs the drafts the server makes for users (the Epilog's). StratusLab
 * signed them with a throw-away "Jane Tester" certificate made on the spot (reference §2.4
 * step 6); a kept one names this server as the endorser, and the Marketplace can refuse anyone
 * else's upload that claims it.
 */
export function serviceIdentity(dataDir: string, names: ServiceNames = defaultServiceNames()): ServiceIdentity {
  const credentials = keptP12({ dir: join(dataDir, 'service'), file: 'service.p12', commonName: names.commonName, email: names.email, validityDays: 3650 });
  const endorser = { email: credentials.cert.email ?? names.email, subject: credentials.cert.subject };
  return {
    credentials, endorser,
    sign: (xml) => {
      const doc = parseXml(xml, { source: 'draft metadata' });
      signDocument(doc, { credentials });
      return serializeDocument(doc);
    },
  };
}
