import { StratusError } from '../domain/errors.js';
import { valueFieldPlan } from '../domain/entry-fields.js';
import type { EntryFields } from '../domain/entry-fields.js';
import { searchableText } from '../metadata/entry/entry.js';
import type { Entry } from '../metadata/entry/entry.js';
import type { NewEntryRow } from '../storage/entries.js';

/** The key of one stored entry, and its path under /metadata. */
export interface EntryKey {
  identifier: string;
  email: string;
  created: string;
}

export function entryPath(k: EntryKey): string {
  return `${k.identifier}/${k.email}/${k.created}`;
}

export function keyOf(entry: Entry): EntryKey {
  const { email, created } = entry.endorsement;
  if (!email || !created) {
    throw new StratusError('METADATA_INVALID', 'invalid metadata: the endorsement has no e-mail or creation date', {
      hint: 'Sign the entry with stratus-sign-metadata, which fills the endorsement.',
    });
  }
  return { identifier: entry.identifier, email, created };
}

/** `pdisk` for entries kept in a site's disk service; `web` for http(s)/ftp; `none` without location. */
export function locationKind(locations: string[]): 'pdisk' | 'web' | 'none' {
  if (locations.length === 0) return 'none';
  return locations.some((l) => /^pdisk/.test(l)) ? 'pdisk' : 'web';
}

/** The row of an entry: its key and provenance, and a column per field that has one. */
export function toRow(e: Entry, key: EntryKey, xml: string, now: string, fields: EntryFields): NewEntryRow {
  const values = e as unknown as Record<string, unknown>;
  const row: Record<string, unknown> = { identifier: key.identifier, email: key.email, created: key.created };
  for (const f of valueFieldPlan(fields).listed) {
    const v = values[f.name];
    // An empty date is no date: an entry with an empty dcterms:valid has no validity.
    row[f.column as string] = f.many ? JSON.stringify(v ?? []) : f.date ? v || null : v ?? null;
  }
  row.location = e.locations[0] ?? null;
  row.location_kind = locationKind(e.locations);
  row.subject = e.endorsement.subject ?? null;
  row.issuer = e.endorsement.issuers[0] ?? null;
  row.uploaded_at = now;
  row.search = searchableText(e, fields);
  row.xml = xml;
  return row as unknown as NewEntryRow;
}
