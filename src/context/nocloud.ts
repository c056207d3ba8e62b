import { gzipSync } from 'node:zlib';
import { StratusError } from '../domain/errors.js';
import { buildIso } from './iso9660.js';

/**
 * user-data may be at most this many bytes once gzipped: StratusLab's limit for cloud-init
 * user-data, and EC2's. Anything bigger belongs on a volume, not in the context.
 */
export const USER_DATA_LIMIT = 16 * 1024;

export interface SeedInput {
  instanceId: string;
  hostname: string;
  /** OpenSSH public keys for the default user (root on Stratus images). */
  sshKeys?: string[];
  /** user-data exactly as cloud-init should read it (a script, #cloud-config, MIME, or gzip of these). */
  userData?: string | Buffer;
  /** NoCloud network-config (v1 or v2 YAML), when not plain DHCP. */
  networkConfig?: string;
  /**
   * The provider's cloud-config (NoCloud `vendor-data`), e.g. aptProxyVendorData(url) for the
   * package proxy. cloud-init applies it under the user's user-data, which overrides it.
   */
  vendorData?: string;
}

/** meta-data in the NoCloud format: YAML with instance-id, local-hostname, public-keys. */
function metaData(s: SeedInput): string {
  const lines = [`instance-id: ${s.instanceId}`, `local-hostname: ${s.hostname}`];
  const keys = (s.sshKeys ?? []).map((k) => k.trim()).filter(Boolean);
  if (keys.length) lines.push('public-keys:', ...keys.map((k) => `  - ${JSON.stringify(k)}`));
  return lines.join('\n') + '\n';
}

/**
 * The NoCloud seed: an ISO 9660 volume labelled `cidata` with meta-data and user-data (both
 * always present: cloud-init ignores a seed that lacks either).
 */
export function buildSeed(s: SeedInput): Buffer {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(s.instanceId)) throw new StratusError('USAGE', `invalid instance id '${s.instanceId}'`);
  checkHostname(s.hostname);
  const userData = s.userData === undefined ? Buffer.from('') : Buffer.isBuffer(s.userData) ? s.userData : Buffer.from(s.userData, 'utf8');
  const gzipped = userData[0] === 0x1f && userData[1] === 0x8b ? userData : gzipSync(userData, { level: 9 });
  if (gzipped.length > USER_DATA_LIMIT) {
    throw new StratusError('CONTEXT_TOO_LARGE', `user-data is ${gzipped.length} bytes gzipped, over the limit of ${USER_DATA_LIMIT}`, {
      hint: 'Put large files on a volume, or fetch them from the guest; keep scripts and cloud-config small.',
    });
  }
  const files = [{ name: 'meta-data', data: Buffer.from(metaData(s)) }, { name: 'user-data', data: userData }];
  if (s.networkConfig) files.push({ name: 'network-config', data: Buffer.from(s.networkConfig) });
  if (s.vendorData) files.push({ name: 'vendor-data', data: Buffer.from(s.vendorData) });
  return buildIso('cidata', files);
}

/** A guest's host name: one DNS label, as both images and cloud-init accept it. */
export function checkHostname(hostname: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(hostname)) {
    throw new StratusError('USAGE', `invalid hostname '${hostname}'`, { hint: 'Use letters, digits and dashes (at most 63 characters).' });
  }
  return hostname;
}
