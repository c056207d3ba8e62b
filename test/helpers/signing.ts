import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSelfSignedP12 } from '../../src/metadata/cert/generate.js';
import { loadP12 } from '../../src/metadata/cert/credentials.js';
import type { SigningCredentials } from '../../src/metadata/cert/credentials.js';
import { buildEntryXml } from '../../src/metadata/entry/build.js';
import type { EntryDraft } from '../../src/metadata/entry/build.js';
import { parseXml } from '../../src/metadata/xml/parse.js';
import { serializeDocument } from '../../src/metadata/xml/serialize.js';
import { signDocument } from '../../src/metadata/dsig/sign.js';
import type { SigningAlgorithmName } from '../../src/metadata/dsig/algorithms.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import { addDays, formatUtc } from '../../src/domain/dates.js';

export interface TestSigner {
  p12Path: string;
  password: string;
  credentials: SigningCredentials;
  email: string;
  subject: string;
}

/** A fresh self-signed signer, written as a P12 in `dir`. */
export function makeSigner(dir: string, commonName = 'Joe Builder', email = 'builder@example.org', password = 'secret'): TestSigner {
  const p12Path = join(dir, `${email.replace(/[^a-z0-9]/gi, '_')}.p12`);
  writeFileSync(p12Path, generateSelfSignedP12({ commonName, email, password, validityDays: 30 }));
  const credentials = loadP12(p12Path, password);
  return { p12Path, password, credentials, email, subject: credentials.cert.subject };
}

/** An unsigned draft for random image bytes, with overridable fields. */
export function draft(overrides: Partial<EntryDraft> = {}, now = new Date()): EntryDraft {
  const sha1 = createHash('sha1').update(randomBytes(32)).digest('hex');
  return {
    identifier: identifierFromSha1(sha1),
    bytes: 1024,
    checksums: { 'SHA-1': sha1 },
    type: 'base', kind: 'machine', os: 'Debian', osVersion: '12', osArch: 'x86_64', version: '1.0',
    compression: 'gz', locations: ['http://images.example.org/debian-12.img.gz'], format: 'raw',
    creator: 'Joe Builder', created: formatUtc(now), valid: formatUtc(addDays(now, 178)),
    title: 'debian-12-base', alternative: '', description: 'Minimal Debian 12 with cloud-init', hypervisor: 'kvm', disksBus: 'virtio',
    ...overrides,
  };
}

/** Signs a draft (or XML) and returns the signed document text. */
export function signedXml(signer: TestSigner, d: EntryDraft | string, opts: { algorithm?: SigningAlgorithmName; now?: Date } = {}): string {
  const doc = parseXml(typeof d === 'string' ? d : buildEntryXml(d));
  signDocument(doc, { credentials: signer.credentials, ...(opts.algorithm ? { algorithm: opts.algorithm } : {}), ...(opts.now ? { now: opts.now } : {}) });
  return serializeDocument(doc);
}
