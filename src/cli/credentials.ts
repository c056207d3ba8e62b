import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { StratusError } from '../domain/errors.js';
import { loadP12, loadPem } from '../metadata/cert/credentials.js';
import type { SigningCredentials } from '../metadata/cert/credentials.js';
import { P12_CERTIFICATE, P12_PASSWORD } from './program.js';
import type { Context } from './program.js';
import { promptSecret } from './prompt.js';

/** Adds the signing options: a P12 (StratusLab's way) or a PEM certificate and key. */
export function addSigningOptions(program: Command): Command {
  return program
    .option('--p12-cert <file>', 'PKCS#12 signing certificate (env STRATUSLAB_P12_CERTIFICATE, default ~/.globus/usercert.p12)')
    .option('--p12-password <password>', 'password of the P12 file (env STRATUSLAB_P12_PASSWORD; prompted when missing)')
    .option('--pem-cert <file>', 'sign with this PEM certificate instead of a P12 (needs --pem-key)')
    .option('--pem-key <file>', 'PEM private key matching --pem-cert')
    .option('--algorithm <name>', 'signature algorithm: rsa-sha256, or rsa-sha1 for old verifiers', 'rsa-sha256');
}

export interface SigningOptionValues {
  p12Cert?: string;
  p12Password?: string;
  pemCert?: string;
  pemKey?: string;
  algorithm: string;
}

/** Loads the signing credentials the options (or settings) name, prompting for a P12 password if needed. */
export async function signingCredentials(ctx: Context, o: SigningOptionValues): Promise<SigningCredentials> {
  if (o.algorithm !== 'rsa-sha256' && o.algorithm !== 'rsa-sha1') {
    throw new StratusError('USAGE', `unknown --algorithm ${o.algorithm}`, { hint: 'Use rsa-sha256 (default) or rsa-sha1.' });
  }
  const pemCert = ctx.setting({ key: 'pem_certificate', env: 'STRATUSLAB_PEM_CERTIFICATE' }, o.pemCert);
  const pemKey = ctx.setting({ key: 'pem_key', env: 'STRATUSLAB_PEM_KEY' }, o.pemKey);
  if (o.pemCert || (o.pemKey && pemCert)) {
    if (!pemCert || !pemKey) throw new StratusError('USAGE', '--pem-cert and --pem-key go together', { hint: 'Give both files, or use --p12-cert.' });
    return loadPem(pemCert, pemKey);
  }
  const p12 = ctx.setting({ ...P12_CERTIFICATE, default: join(homedir(), '.globus', 'usercert.p12') }, o.p12Cert) as string;
  if (!existsSync(p12)) {
    throw new StratusError('P12_NOT_FOUND', `certificate file not found: ${p12}`);
  }
  const password = ctx.setting(P12_PASSWORD, o.p12Password) ?? await promptSecret(`PKCS12 (P12) cert '${p12}' password: `);
  return loadP12(p12, password);
}
