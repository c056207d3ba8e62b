import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StratusError, isStratusError } from '../domain/errors.js';
import { generateSelfSignedP12 } from '../metadata/cert/generate.js';
import { loadP12 } from '../metadata/cert/credentials.js';
import type { SigningCredentials } from '../metadata/cert/credentials.js';
import { adminPasswordFile } from '../platform/data-dir.js';
import { randomPassword } from '../platform/password.js';
import { writeFileAtomic } from '../platform/files.js';
import { PdiskClient } from '../client/pdisk-client.js';
import type { Credentials } from '../client/pdisk-client.js';

/** StratusLab's image builder identity: users find base images by the endorser "hudson.builder". */
export const BUILDER_NAME = 'hudson builder';
export const BUILDER_EMAIL = 'hudson.builder@stratuslab.eu';
const BUILDER_ACCOUNT = 'builder';

/**
 * The builder's signing certificate, kept in <data-dir>/builder/ and created once (a
 * self-signed P12, as StratusLab's Hudson jobs made with stratus-generate-p12).
 */
export function builderCredentials(dataDir: string): SigningCredentials {
  const dir = join(dataDir, 'builder');
  const p12 = join(dir, 'builder.p12');
  const secret = join(dir, 'p12-password');
  if (!existsSync(p12)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const password = randomPassword();
    writeFileAtomic(secret, password + '\n', 0o600);
    writeFileAtomic(p12, generateSelfSignedP12({ commonName: BUILDER_NAME, email: BUILDER_EMAIL, password, validityDays: 3650 }), 0o600);
  }
  return loadP12(p12, readFileSync(secret, 'utf8').trim());
}

/**
 * The `builder` account that owns published base images: created with the admin's
 * credentials the first time, its password kept in <data-dir>/builder/account-password.
 */
export async function builderAccount(dataDir: string, endpoint: string, admin: Credentials | undefined): Promise<Credentials> {
  const file = join(dataDir, 'builder', 'account-password');
  if (existsSync(file)) {
    const creds = { username: BUILDER_ACCOUNT, password: readFileSync(file, 'utf8').trim() };
    await new PdiskClient(endpoint, creds).me();
    return creds;
  }
  const adminCreds = admin ?? adminFromDataDir(dataDir);
  const password = randomPassword();
  try {
    await new PdiskClient(endpoint, adminCreds).addUser({ username: BUILDER_ACCOUNT, password });
  } catch (e) {
    if (isStratusError(e, 'USER_EXISTS')) {
      // Made earlier with a password we no longer have: reset it (the admin may).
      await new PdiskClient(endpoint, adminCreds).passwd(BUILDER_ACCOUNT, password);
    } else {
      throw e;
    }
  }
  mkdirSync(join(dataDir, 'builder'), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, password + '\n', 0o600);
  return { username: BUILDER_ACCOUNT, password };
}

function adminFromDataDir(dataDir: string): Credentials {
  if (process.env.STRATUS_ADMIN_PASSWORD) return { username: 'admin', password: process.env.STRATUS_ADMIN_PASSWORD };
  const file = adminPasswordFile(dataDir);
  if (!existsSync(file)) {
    throw new StratusError('AUTH_REQUIRED', `no admin credentials to create the builder account: ${file} does not exist`, {
      hint: 'Give -u admin -p <password>, set STRATUS_ADMIN_PASSWORD, or point --data-dir at the server\'s data dir.',
    });
  }
  return { username: 'admin', password: readFileSync(file, 'utf8').trim() };
}
