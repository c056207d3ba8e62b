import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSelfSignedP12 } from './generate.js';
import { loadP12 } from './credentials.js';
import type { SigningCredentials } from './credentials.js';
import { randomPassword } from '../../platform/password.js';
import { writeFileAtomic } from '../../platform/files.js';

export interface KeptP12Options {
  /** Folder that holds the P12 and its password (made 0700). */
  dir: string;
  /** File name of the P12 inside `dir`. */
  file: string;
  commonName: string;
  email: string;
  validityDays: number;
}

/**
 * A signing identity kept in a folder of the data dir: a self-signed P12 (as
 * stratus-generate-p12 makes) and its random password, both 0600, created once and reused
 * after every restart. Each file is written to a temporary name and renamed, the P12 last, so
 * a crash leaves either nothing to read or a pair that opens. The names given are used only
 * when the P12 is made: an identity, once made, keeps its certificate.
 */
export function keptP12(o: KeptP12Options): SigningCredentials {
  const p12 = join(o.dir, o.file);
  const secret = join(o.dir, 'p12-password');
  if (!existsSync(p12)) {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    const password = randomPassword();
    writeFileAtomic(secret, password + '\n', 0o600);
    writeFileAtomic(p12, generateSelfSignedP12({ commonName: o.commonName, email: o.email, password, validityDays: o.validityDays }), 0o600);
  }
  return loadP12(p12, readFileSync(secret, 'utf8').trim());
}
