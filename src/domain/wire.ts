/**
 * Shapes that cross the HTTP boundary as JSON: the API writes them, the CLI and the web UI
 * read them. Field names are the glossary's, in camelCase.
 */
import type { ListedValues, UnlistedValues } from './entry-fields.js';

export type EntryStatusName = 'valid' | 'expired' | 'deprecated' | 'superseded' | 'no-validity';

/**
 * One metadata entry as listings show it: its key, status and provenance, and every field of
 * the entry schema that has a database column (domain/entry-fields.ts).
 */
export interface EntrySummary extends ListedValues {
  identifier: string;
  email: string;
  created: string;
  status: EntryStatusName;
  /** The first location. */
  location: string | null;
  subject: string | null;
  issuer: string | null;
  /** Path of the entry under the server root: /metadata/<id>/<email>/<created>. */
  path: string;
}

/** A page of a listing: StratusLab's DataTables fields plus `entries` for modern clients. */
export interface EntryListing {
  sEcho: number;
  iTotalRecords: number;
  iTotalDisplayRecords: number;
  rMsg: string;
  aaData: string[][];
  entries: EntrySummary[];
  offset: number;
  limit: number;
  /** Matches; a lower bound when totalExact is false (a very broad free-text search). */
  total: number;
  totalExact: boolean;
}

/** What the entry page and `stratus-show-image --json` show about the signature. */
export interface SignatureInfo {
  valid: boolean;
  reason?: string;
  algorithm?: string;
  signer?: { subject: string; issuer: string; email?: string; notBefore: string; notAfter: string };
}

export interface ChecksumInfo {
  algorithm: string;
  value: string;
}

/** A single entry with everything the entry page shows: every field of the schema. */
export interface EntryDetail extends EntrySummary, UnlistedValues {
  checksums: ChecksumInfo[];
  /** Elements in other namespaces, serialized as they are. */
  extensions: string[];
  signature: SignatureInfo;
}

export interface EndorserSummary {
  email: string;
  subject: string | null;
  issuer: string | null;
}

export type StatusFilter = 'valid' | 'expired' | 'deprecated' | 'all';
export type LocationFilter = 'all' | 'pdisk' | 'web';
export type SortColumn = 'created' | 'os' | 'os_version' | 'os_arch' | 'email' | 'kind' | 'identifier' | 'title';

/** A listing query (reference §6.2). Unless `created` is given, only latest entries count. */
export interface ListQuery {
  identifier?: string;
  email?: string;
  created?: string;
  status?: StatusFilter;
  location?: LocationFilter;
  os?: string;
  osVersion?: string;
  osArch?: string;
  tag?: string;
  /** Space-separated terms; every term must occur (case-insensitive) in some field. */
  text?: string;
  offset?: number;
  limit?: number;
  sort?: SortColumn;
  direction?: 'asc' | 'desc';
}

/** An account as the API shows it (never its password hash). */
export interface UserInfo {
  username: string;
  admin: boolean;
  quotaGib: number | null;
  quotaVolumes: number | null;
  created: string;
}

/** What a confirmation link does with the upload it names (reference §6.3). */
export type UploadAction = 'confirm' | 'abort' | 'abuse';

/** An upload waiting for its endorser's confirmation, as the links' page shows it. */
export interface PendingUploadView {
  identifier: string;
  /** The endorser: the signing certificate's e-mail address, which the links went to. */
  email: string;
  /** The endorsement date. */
  created: string;
  title: string | null;
  /** The entry deprecates its image. */
  deprecating: boolean;
  /** When it arrived, and when its links stop working (ISO 8601 UTC). */
  received: string;
  expires: string;
}
