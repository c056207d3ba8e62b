import { join } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { isPlainAddress } from '../domain/email.js';
import type { AbuseReport, ConfirmationOptions, Marketplace } from '../marketplace/marketplace.js';
import { ReminderScheduler, abuseReportMessage, abuseReportText, uploadConfirmationMessage } from '../mail/index.js';
import type { Mailer } from '../mail/index.js';

/** The Marketplace's mail of §6.3 and §6.4, from `[marketplace]` of stratus.cfg. */
export interface MarketplaceMailSettings {
  /** validate_email: uploads by endorsers the trust policy does not trust wait for their confirmation by e-mail. */
  validateEmail: boolean;
  /** pending_upload_hours: how long the confirmation links work. */
  pendingUploadHours: number;
  /** admin_email: who hears of an upload reported as abuse (else the server log). */
  adminEmail?: string;
  /** endorser_reminder: the 30-day summaries and daily expiry warnings of §6.4. */
  endorserReminder: boolean;
}

export const DEFAULT_PENDING_UPLOAD_HOURS = 24;
/** How often expired pending uploads are purged, at most (more often when they expire sooner). */
const PURGE_EVERY_MS = 15 * 60_000;

type Get = (key: string) => string | undefined;

/**
 * Reads, all optional, from [marketplace]: validate_email (true | false; false, as StratusLab's
 * shipped file), pending_upload_hours (a number above 0, decimals allowed, at most 8760; 24),
 * admin_email (one plain address), endorser_reminder (true | false; false).
 */
export function loadMarketplaceMail(get: Get, cfgPath: string): MarketplaceMailSettings {
  const bad = (key: string, value: string, what: string): never => {
    throw new StratusError('CONFIG_INVALID', `${cfgPath}: [marketplace] ${key} = ${value} is not ${what}`);
  };
  const flag = (key: string): boolean => {
    const raw = get(key)?.trim();
    if (raw === undefined || raw === '') return false;
    if (raw !== 'true' && raw !== 'false') bad(key, raw, 'true or false');
    return raw === 'true';
  };
  const hoursText = get('pending_upload_hours')?.trim();
  const hours = hoursText === undefined || hoursText === '' ? DEFAULT_PENDING_UPLOAD_HOURS : Number(hoursText);
  if (hoursText !== undefined && hoursText !== '' && !(/^\d+(\.\d+)?$/.test(hoursText) && hours > 0 && hours <= 8760)) {
    bad('pending_upload_hours', hoursText, 'a number of hours above 0 (decimals allowed, at most 8760)');
  }
  const settings: MarketplaceMailSettings = { validateEmail: flag('validate_email'), pendingUploadHours: hours, endorserReminder: flag('endorser_reminder') };
  const admin = get('admin_email')?.trim();
  if (admin) {
    if (!isPlainAddress(admin)) bad('admin_email', admin, 'one plain e-mail address (such as admin@example.org)');
    settings.adminEmail = admin;
  }
  return settings;
}

/** What the Marketplace is given: the confirmation mail when validate_email is on, and the abuse report. */
export function marketplaceMailOptions(s: MarketplaceMailSettings, mailer: Mailer, publicUrl: () => string, log: (line: string) => void): {
  confirmation?: ConfirmationOptions;
  reportAbuse: (r: AbuseReport) => Promise<void>;
} {
  const reportAbuse = async (r: AbuseReport): Promise<void> => {
    if (s.adminEmail) await mailer.send(abuseReportMessage(s.adminEmail, publicUrl(), r));
    else log(`Abuse reported (set [marketplace] admin_email to be mailed): ${abuseReportText(publicUrl(), r).trim().replace(/\n\s*/g, '; ')}`);
  };
  if (!s.validateEmail) return { reportAbuse };
  return {
    reportAbuse,
    confirmation: { holdMs: Math.round(s.pendingUploadHours * 3_600_000), notify: (n) => mailer.send(uploadConfirmationMessage(n)) },
  };
}

/**
 * The Marketplace's timed work for `stratus serve`: expired pending uploads purged now and
 * periodically, and with endorser_reminder the reminder rounds. The timers do not keep the
 * process alive; close() stops them and waits for a round under way.
 */
export async function startMarketplaceRounds(o: {
  settings: MarketplaceMailSettings;
  marketplace: Marketplace;
  mailer: Mailer;
  dataDir: string;
  publicUrl: () => string;
  log: (line: string) => void;
}): Promise<{ notices: string[]; close(): Promise<void> }> {
  const notices: string[] = [];
  const purged = await o.marketplace.purgePendingUploads();
  if (purged > 0) notices.push(`Removed ${purged} expired upload${purged === 1 ? '' : 's'} that waited for confirmation`);
  const holdMs = o.settings.pendingUploadHours * 3_600_000;
  let purging: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    purging ??= o.marketplace.purgePendingUploads()
      .catch((e: unknown) => o.log(`WARNING: purging expired pending uploads failed: ${(e as Error).message}`))
      .finally(() => { purging = undefined; });
  }, Math.max(1000, Math.min(PURGE_EVERY_MS, holdMs)));
  timer.unref();
  let reminders: ReminderScheduler | undefined;
  if (o.settings.endorserReminder) {
    reminders = new ReminderScheduler({
      mailer: o.mailer,
      endorsers: () => o.marketplace.validEntriesByEndorser(),
      marketplaceUrl: o.publicUrl,
      stateFile: join(o.dataDir, 'reminders.json'),
      onError: (e, to) => o.log(`WARNING: endorser reminder${to ? ` to ${to}` : ''} not sent: ${(e as Error).message}`),
    });
    reminders.start();
    notices.push(`Endorser reminders: on (expiry warnings daily, summaries every 30 days; state in ${join(o.dataDir, 'reminders.json')})`);
  }
  if (o.settings.validateEmail) notices.push(`Uploads by endorsers outside the trust policy wait for confirmation by e-mail (links valid ${o.settings.pendingUploadHours} h)`);
  return {
    notices,
    close: async () => {
      clearInterval(timer);
      await reminders?.stop();
      await purging;
    },
  };
}
