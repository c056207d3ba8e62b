import { ENTRY_FIELDS } from '../../domain/entry-fields.js';
import type { EntryFields } from '../../domain/entry-fields.js';
import { pdiskLocation } from '../../domain/volume.js';
import type { DigestResult } from '../../platform/hashing.js';
import { newDraft } from './build.js';
import type { EntryDraft } from './build.js';
import type { Entry } from './entry.js';

/** built_image_validity_period's default (§2.4 step 4): a saved image's draft is valid 2 days. */
export const BUILT_IMAGE_VALID_DAYS = 2;

/**
 * The parent's fields that describe its content or its own endorsement, not the new image's:
 * made again from the saved bytes, the --save options and the time, or left out. The location
 * is the new volume's; the compression described the parent's file; a deprecation was the
 * parent's.
 */
const NOT_INHERITED: ReadonlySet<string> = new Set([
  'identifier', 'bytes', 'checksums', 'endorsement', 'created', 'valid', 'locations', 'compression', 'deprecated',
  'creator', 'version', 'title', 'description', 'format',
]);

/** What the save knows of the new image (§2.4 steps 2-4). */
export interface SavedImage {
  /** Byte count and digests of the saved raw disk, computed as it was copied: all four checksums. */
  content: DigestResult;
  /** The new volume, and the pdisk service (its base URL) that holds it. */
  volume: string;
  /** The volume's format: what the checksums are of (default raw). */
  format?: 'raw' | 'qcow2';
  pdiskEndpoint: string;
  /** --author, --image-version (empty or absent: the parent's, minor part incremented), --title, --comment. */
  creator: string;
  version?: string;
  title: string;
  description: string;
  /** built_image_validity_period, in days. */
  validDays: number;
  now: Date;
}

/**
 * The draft entry of a saved image (§2.4 step 4): the parent's entry with what the save
 * changed. Unlike StratusLab, which kept the parent's slreq:bytes and other checksums beside
 * the new SHA-1, every checksum and the byte count describe the saved bytes. The only location
 * is the new volume's, in the colon form (`pdisk:<host>:<port>:<uuid>`), and the format is the
 * volume's. An image with no entry (run from a volume or a plain URL) has no parent:
 * the draft then holds only what the save knows. Pure: the caller signs, uploads and mails it.
 */
export function savedImageDraft(parent: Entry | undefined, s: SavedImage, fields: EntryFields = ENTRY_FIELDS): EntryDraft {
  const values = (parent ?? {}) as Record<string, unknown>;
  const inherited: Record<string, unknown> = {};
  for (const f of fields) {
    if (NOT_INHERITED.has(f.name)) continue;
    const v = values[f.name];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    inherited[f.name] = Array.isArray(v) ? [...(v as unknown[])] : v;
  }
  const version = s.version?.trim() ? s.version.trim() : nextVersion(parent?.version);
  return newDraft(s.content, {
    ...inherited,
    creator: s.creator, version, title: s.title, description: s.description, format: s.format ?? 'raw',
    locations: [pdiskLocation(s.pdiskEndpoint, s.volume)],
  } as Parameters<typeof newDraft>[1], s.validDays, s.now);
}

/**
 * The version of an image saved from one of version `parent` when none was given (§2.4: "the
 * parent's version with its minor part incremented"): `1.4` → `1.5`, `1.9` → `1.10`, `1.09`
 * → `1.10` (its width kept, `1.04` → `1.05`), `1.4.7` → `1.5.0` (what follows the minor part
 * starts again at 0, as semantic versions do; a non-numeric part there ends the version),
 * `1.4rc2` → `1.5` (the minor part's suffix was about 1.4). With no minor part, one is added:
 * `2` → `2.1`, `jessie` → `jessie.1`, `1.x` → `1.x.1`. No version at all counts as 0.0: `0.1`.
 */
export function nextVersion(parent: string | undefined): string {
  const text = (parent ?? '').trim();
  if (!text) return '0.1';
  const [major, minor, ...rest] = text.split('.');
  const digits = minor === undefined ? null : /^\d+/.exec(minor);
  if (!digits) return `${text}.1`;
  const next = (BigInt(digits[0]) + 1n).toString().padStart(digits[0].length, '0');
  const zeros: string[] = [];
  // Only while the minor part was a plain number: `1.4rc2.3` is 1.4rc2's, not a patch level.
  if (digits[0] === minor) for (const part of rest) {
    if (!/^\d+$/.test(part)) break;
    zeros.push('0');
  }
  return [major, next, ...zeros].join('.');
}
