import { StratusError } from './errors.js';

/** Volume types of reference §7.3. */
export const VOLUME_TYPES = [
  'MACHINE_IMAGE_ORIGIN', 'MACHINE_IMAGE_LIVE', 'DATA_IMAGE_ORIGIN', 'DATA_IMAGE_LIVE',
  'DATA_IMAGE_RAW_READONLY', 'DATA_IMAGE_RAW_READ_WRITE',
] as const;
export type VolumeType = (typeof VOLUME_TYPES)[number];

export type Visibility = 'PRIVATE' | 'PUBLIC';

const MAX_SIZE_GIB = 1024;
const MAX_TAG_LENGTH = 40;
const GIB = 1024 ** 3;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A volume as the API shows it (all of §7.3 plus what Stratus adds). */
export interface VolumeInfo {
  uuid: string;
  tag: string;
  count: number;
  owner: string;
  identifier: string;
  size: number;
  type: VolumeType;
  visibility: Visibility;
  quarantine: string;
  created: string;
  bytes: number;
  format: string;
  origin: string | null;
}

export interface MountInfo {
  id: string;
  volume: string;
  vmId: string;
  node: string;
  target: string;
  created: string;
  /** The account that made the mount. */
  owner: string;
  /** True unless the volume's owner made it: others attach a PUBLIC volume read-only. */
  readOnly: boolean;
}

function isUuid(s: string): boolean {
  return UUID_RE.test(s);
}

/** Throws VOLUME_INVALID in StratusLab's words (`Invalid UUID …`). */
export function requireUuid(s: string): string {
  if (!isUuid(s)) throw new StratusError('VOLUME_INVALID', `Invalid UUID ${s}`);
  return s.toLowerCase();
}

/** GiB for a byte count, rounded up, at least 1 (StratusLab's convertBytesToGibiBytes). */
export function bytesToGib(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / GIB));
}

export function gibToBytes(gib: number): number {
  return gib * GIB;
}

/**
 * The most compressed (or raw) bytes that can stand for `bytes` of content: gzip and bzip2 make
 * incompressible data a little larger (gzip by 5 bytes per 64 KiB block plus a header, bzip2
 * by well under 1 %), so 1 % plus 1 MiB more is allowed, and no more. Uploads and downloads
 * stop past it, so a stream of empty gzip members cannot fill a disk either.
 */
export function compressedBound(bytes: number): number {
  return bytes + Math.ceil(bytes / 100) + 1024 * 1024;
}

export function requireSize(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(String(value ?? '').trim());
  if (!Number.isInteger(n) || n < 1 || n > MAX_SIZE_GIB) {
    throw new StratusError('VOLUME_INVALID', `Size must be an integer between 1 and ${MAX_SIZE_GIB}`);
  }
  return n;
}

export function requireTag(tag: string): string {
  if (tag.length > MAX_TAG_LENGTH) throw new StratusError('VOLUME_INVALID', `Tag must be less than ${MAX_TAG_LENGTH} characters (it has ${tag.length})`);
  return tag;
}

export function requireVisibility(v: string): Visibility {
  const u = v.toUpperCase();
  if (u !== 'PRIVATE' && u !== 'PUBLIC') throw new StratusError('VOLUME_INVALID', `visibility must be private or public, not ${v}`);
  return u;
}

export function requireType(t: string): VolumeType {
  const u = t.toUpperCase() as VolumeType;
  if (!VOLUME_TYPES.includes(u)) throw new StratusError('VOLUME_INVALID', `type must be one of ${VOLUME_TYPES.join(', ')}, not ${t}`);
  return u;
}

/** A volume reference found in an image location: `pdisk:<host>:<port>:<uuid>` or a pdisk URL. */
export interface PdiskLocation {
  /** http(s)://host:port of the server that holds the volume. */
  endpoint: string;
  uuid: string;
}

/**
 * Reads `pdisk:<host>:<port>:<uuid>` (the form --save wrote) and pdisk HTTP URLs
 * (`http(s)://host:port[/pswd]/disks/<uuid>`, the form upload-image wrote). Anything else is
 * not a pdisk location.
 */
export function parsePdiskLocation(location: string): PdiskLocation | undefined {
  const colon = /^pdisk:([^:]+|\[[^\]]+\]):(\d+):([0-9a-fA-F-]{36})$/.exec(location.trim());
  if (colon && isUuid(colon[3] as string)) {
    const host = colon[1] as string;
    const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(host);
    return { endpoint: `${loopback ? 'http' : 'https'}://${host}:${colon[2]}`, uuid: (colon[3] as string).toLowerCase() };
  }
  const url = /^(https?:\/\/[^/]+)(?:\/pdisk)?(?:\/pswd)?\/disks\/([0-9a-fA-F-]{36})\/?$/.exec(location.trim());
  if (url && isUuid(url[2] as string)) return { endpoint: url[1] as string, uuid: (url[2] as string).toLowerCase() };
  return undefined;
}

/** The colon form of a pdisk location for a server base URL. */
export function pdiskLocation(endpoint: string, uuid: string): string {
  const u = new URL(endpoint);
  const port = u.port || (u.protocol === 'https:' ? '443' : '80');
  return `pdisk:${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${port}:${uuid}`;
}
