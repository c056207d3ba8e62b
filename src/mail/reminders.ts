import type { MailMessage } from './mailer.js';

/** One of an endorser's entries, as the reminders of §6.4 (`endorser.reminder`) need it. */
export interface ReminderEntry {
  identifier: string;
  /** The endorsement time, the entry's key (`…Z`). */
  created: string;
  /** dcterms:valid, the expiry (`…Z`); entries without one never expire. */
  valid?: string;
  title?: string;
}

export interface EndorserEntries {
  email: string;
  /** The endorser's latest, valid, not deprecated entries. */
  entries: ReminderEntry[];
}

const DAY_MS = 86_400_000;
/** §6.4: entries expiring within 3 days produce a warning. */
export const EXPIRY_WARNING_DAYS = 3;

/** `<mp>/metadata/<id>/<email>/<created>?media=xml`, each segment escaped (an address may hold `%` or `+`). */
export function entryXmlUrl(marketplaceUrl: string, email: string, e: ReminderEntry): string {
  const seg = (s: string): string => encodeURIComponent(s).replace(/%40/g, '@').replace(/%3A/gi, ':');
  return `${marketplaceUrl.replace(/\/+$/, '')}/metadata/${seg(e.identifier)}/${seg(email)}/${seg(e.created)}?media=xml`;
}

/** The entries whose validity ends after `now` and within `days` of it, soonest first. */
export function expiringSoon(entries: ReminderEntry[], now: Date, days = EXPIRY_WARNING_DAYS): ReminderEntry[] {
  const t = now.getTime();
  return entries
    .filter((e) => e.valid !== undefined && Date.parse(e.valid) > t && Date.parse(e.valid) <= t + days * DAY_MS)
    .sort((a, b) => Date.parse(a.valid!) - Date.parse(b.valid!));
}

const line = (e: ReminderEntry): string => `  ${e.identifier}  endorsed ${e.created}${e.valid ? `, valid until ${e.valid}` : ''}${e.title ? `  ${oneLine(e.title)}` : ''}`;
// eslint-disable-next-line no-control-regex
const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();

/** The 30-day summary: the endorser's valid entries, with how to deprecate one. Undefined when there are none. */
export function endorserSummaryMessage(marketplaceUrl: string, who: EndorserEntries): MailMessage | undefined {
  if (who.entries.length === 0) return undefined;
  const mp = marketplaceUrl.replace(/\/+$/, '');
  const entries = [...who.entries].sort((a, b) => a.identifier.localeCompare(b.identifier) || a.created.localeCompare(b.created));
  const text = [
    `The Marketplace ${mp} holds ${entries.length} valid ${entries.length === 1 ? 'entry' : 'entries'} endorsed with this e-mail address (${who.email}):`,
    '',
    ...entries.map(line),
    '',
    'If an image should no longer be used, deprecate its entry:',
    '',
    ...[...new Set(entries.map((e) => e.identifier))].map((id) => `  stratus-deprecate-metadata --email=${who.email} ${id}`),
    '',
  ].join('\n');
  return { to: who.email, subject: `Your Marketplace entries (${entries.length} valid)`, text };
}

/** The daily warning: entries expiring within 3 days, with where to fetch each. Undefined when none expire soon. */
export function expiryWarningMessage(marketplaceUrl: string, who: EndorserEntries, now: Date): MailMessage | undefined {
  const soon = expiringSoon(who.entries, now);
  if (soon.length === 0) return undefined;
  const mp = marketplaceUrl.replace(/\/+$/, '');
  const text = [
    `${soon.length === 1 ? 'This entry' : `These ${soon.length} entries`}, endorsed with this e-mail address (${who.email}), will expire within ${EXPIRY_WARNING_DAYS} days on the Marketplace ${mp}:`,
    '',
    ...soon.flatMap((e) => [line(e), `  Retrieve entry: ${entryXmlUrl(mp, who.email, e)}`, '']),
    'To keep an image available, set a later validity (dcterms:valid) in its entry, sign it again',
    'with stratus-sign-metadata and upload it with stratus-upload-metadata.',
    '',
  ].join('\n');
  return { to: who.email, subject: `Marketplace ${soon.length === 1 ? 'entry' : 'entries'} expiring soon (${soon.length})`, text };
}
