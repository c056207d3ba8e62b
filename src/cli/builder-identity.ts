import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { StratusError, isStratusError } from '../domain/errors.js';
import { keptP12 } from '../metadata/cert/kept-p12.js';
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
  return keptP12({ dir: join(dataDir, 'builder'), file: 'builder.p12', commonName: BUILDER_NAME, email: BUILDER_EMAIL, validityDays: 3650 });
}

/**
 * Where the builder's password for the server at `endpoint` is kept: the account lives on
 * that server, so its password is kept per server (scheme, host and port), never shared.
 */
export function builderAccountFile(dataDir: string, endpoint: string): string {
  const u = new URL(endpoint);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  const server = `${u.protocol.replace(/:$/, '')}_${u.hostname}_${port}`.replace(/[^A-Za-z0-9._-]/g, '_');
  return join(dataDir, 'builder', 'servers', server, 'account-password');
}

/**
 * The `builder` account that owns published base images on the server at `endpoint`. Its
 * password is kept per server (builderAccountFile). When there is none for this server, or
 * the server refuses it (a new server at an old address, a reset account), the account is
 * created, or its password reset, with admin credentials: `admin`, else STRATUS_ADMIN_PASSWORD,
 * else the admin password file of the data dir.
 */
export async function builderAccount(dataDir: string, endpoint: string, admin: Credentials | undefined): Promise<Credentials> {
  const file = builderAccountFile(dataDir, endpoint);
  let stale = false;
  if (existsSync(file)) {
    const creds = { username: BUILDER_ACCOUNT, password: readFileSync(file, 'utf8').trim() };
    try {
      await new PdiskClient(endpoint, creds).me();
      return creds;
    } catch (e) {
      if (!isStratusError(e, 'AUTH_REQUIRED')) throw e;
      stale = true;
    }
  }
  const why = stale ? `${endpoint} refuses the password of its "${BUILDER_ACCOUNT}" account kept in ${file}` : `there is no "${BUILDER_ACCOUNT}" account password for ${endpoint} in ${file}`;
  const adminCreds = admin ?? adminFromDataDir(dataDir, why);
  const password = randomPassword();
  const asAdmin = new PdiskClient(endpoint, adminCreds);
  try {
    try {
      await asAdmin.addUser({ username: BUILDER_ACCOUNT, password });
    } catch (e) {
      if (!isStratusError(e, 'USER_EXISTS')) throw e;
      // Made earlier with a password this client does not have: reset it (the admin may).
      await asAdmin.passwd(BUILDER_ACCOUNT, password);
    }
  } catch (e) {
    if (isStratusError(e, 'AUTH_REQUIRED', 'FORBIDDEN')) {
      throw new StratusError(e.code, `${why}, and the account "${adminCreds.username}" cannot ${stale ? 'reset' : 'create'} it at ${endpoint}: ${e.message}`, {
        hint: `Give the admin account of ${endpoint}: -u admin -p <password>, STRATUS_ADMIN_PASSWORD, or --data-dir of that server.`,
      });
    }
    throw e;
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, password + '\n', 0o600);
  return { username: BUILDER_ACCOUNT, password };
}

function adminFromDataDir(dataDir: string, why: string): Credentials {
  if (process.env.STRATUS_ADMIN_PASSWORD) return { username: 'admin', password: process.env.STRATUS_ADMIN_PASSWORD };
  const file = adminPasswordFile(dataDir);
  if (!existsSync(file)) {
    throw new StratusError('AUTH_REQUIRED', `${why}, and no admin credentials to make it: ${file} does not exist`, {
      hint: 'Give -u admin -p <password>, set STRATUS_ADMIN_PASSWORD, or point --data-dir at the server\'s data dir.',
    });
  }
  return { username: 'admin', password: readFileSync(file, 'utf8').trim() };
}
