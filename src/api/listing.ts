import { StratusError } from '../domain/errors.js';
import type { ListQuery, SortColumn, StatusFilter } from '../domain/wire.js';
import type { SearchFilters } from '../web/pages.js';
import type { Media } from './negotiate.js';
import { LISTING_CHOICES } from '../domain/routes/marketplace.js';

const EMAIL_RE = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** DataTables column numbers of StratusLab's listing (iSortCol_0), mapped to sort columns. */
const COLUMNS: Record<string, SortColumn> = { 1: 'os', 2: 'os_version', 3: 'os_arch', 4: 'email', 5: 'kind', 6: 'created', 7: 'identifier', 10: 'title' };
const SORTS: readonly SortColumn[] = LISTING_CHOICES.sort;
const STATUSES: readonly StatusFilter[] = LISTING_CHOICES.status;
const LOCATIONS = LISTING_CHOICES.location;
const DIRECTIONS = LISTING_CHOICES.order;
const MEDIA = LISTING_CHOICES.media;

/**
 * Entries in an XML listing unless `limit` says otherwise. StratusLab listed everything; a
 * full page is now marked by a Link rel="next" header instead (docs/compat.md).
 */
export const DEFAULT_XML_LIMIT = 1000;

export interface ListingRequest {
  query: ListQuery;
  filters: Omit<SearchFilters, 'offset' | 'limit'>;
  echo: number;
}

/** Path arguments of /metadata/{a}/{b}: e-mails filter on endorser, dates on created, the rest on identifier. */
export function classifyPathArgs(args: string[]): Pick<ListQuery, 'identifier' | 'email' | 'created'> {
  const out: Pick<ListQuery, 'identifier' | 'email' | 'created'> = {};
  for (const a of args) {
    if (EMAIL_RE.test(a)) out.email = a;
    else if (DATE_RE.test(a)) out.created = a;
    else out.identifier = a;
  }
  return out;
}

/**
 * Reads listing parameters: StratusLab's own (status, location, identifier, email, created,
 * DataTables' iDisplayStart/iDisplayLength/iSortCol_0/sSortDir_0/sSearch/sEcho) and the
 * friendlier names the CLI and web UI use (endorser, os, os-version, os-arch, tag, q,
 * offset, limit, sort, order).
 */
export function listingFromParams(raw: Record<string, string | string[] | undefined>, pathArgs: string[], media: Media): ListingRequest {
  const p = (k: string): string | undefined => {
    const v = raw[k];
    const s = Array.isArray(v) ? v[0] : v;
    return s === undefined || s === '' ? undefined : s;
  };
  // A misspelt value must not quietly widen or reorder the listing (StratusLab read any
  // unknown status as "all"), so every enumerated parameter is checked. The route's schema
  // (domain/routes/marketplace.ts) checks them first, with the same message; this keeps
  // listings correct for any caller.
  const choice = <T extends string>(name: string, allowed: readonly T[], value = p(name)): T | undefined => {
    if (value === undefined || allowed.includes(value as T)) return value as T | undefined;
    throw new StratusError('USAGE', `unknown ${name}=${value.slice(0, 64)}: use one of ${allowed.join(', ')}`, {
      hint: `Allowed values of ${name}: ${allowed.join(', ')} (see docs/api.md).`,
    });
  };
  choice('media', MEDIA);
  const status = choice('status', STATUSES) ?? 'valid';
  const location = choice('location', LOCATIONS);
  const query: ListQuery = { status, ...classifyPathArgs(pathArgs) };
  if (location === 'pdisk' || location === 'web') query.location = location;
  const set = <K extends keyof ListQuery>(key: K, value: ListQuery[K] | undefined): void => {
    if (value !== undefined) query[key] = value;
  };
  set('identifier', p('identifier') ?? query.identifier);
  set('email', p('email') ?? p('endorser') ?? query.email);
  set('created', p('created') ?? query.created);
  set('os', p('os'));
  set('osVersion', p('os-version') ?? p('osversion'));
  set('osArch', p('os-arch') ?? p('arch'));
  set('tag', p('tag'));
  set('text', p('q') ?? p('sSearch'));
  const defaultLimit = media === 'html' ? 25 : media === 'json' ? 100 : DEFAULT_XML_LIMIT;
  query.offset = clampInt(p('offset') ?? p('iDisplayStart'), 0, 0, Number.MAX_SAFE_INTEGER);
  query.limit = clampInt(p('limit') ?? p('iDisplayLength'), defaultLimit, 1, 10_000);
  const sort = choice('sort', SORTS) ?? COLUMNS[p('iSortCol_0') ?? ''];
  if (sort) query.sort = sort;
  const dir = choice('order', DIRECTIONS) ?? choice('sSortDir_0', DIRECTIONS);
  if (dir) query.direction = dir;
  const filters: ListingRequest['filters'] = { status };
  if (query.email) filters.endorser = query.email;
  if (query.os) filters.os = query.os;
  if (query.text) filters.q = query.text;
  return { query, filters, echo: clampInt(p('sEcho'), 0, 0, Number.MAX_SAFE_INTEGER) };
}

function clampInt(v: string | undefined, fallback: number, min: number, max: number): number {
  const n = v === undefined ? NaN : Number(v);
  if (!Number.isInteger(n)) return fallback;
  return Math.min(Math.max(n, min), max);
}
