import type { Mailer } from './mailer.js';
import { OutboxMailer } from './outbox.js';
import { SmtpMailer } from './smtp.js';
import type { MailSettings } from './settings.js';

export type { Mailer, MailMessage, MailAttachment } from './mailer.js';
export { loadMailSettings, mailDestinationLine } from './settings.js';
export type { MailSettings, SmtpSettings, MailSecurity } from './settings.js';
export { savedImageMessage } from './saved-image.js';
export type { SavedImage } from './saved-image.js';

/** The SMTP mailer when [mail] names a host, else the outbox under the data dir. */
export function createMailer(settings: MailSettings): Mailer {
  return settings.smtp ? new SmtpMailer(settings.smtp, settings.from) : new OutboxMailer(settings.outboxDir, settings.from);
}
export { endorserSummaryMessage, expiryWarningMessage, expiringSoon, entryXmlUrl } from './reminders.js';
export type { EndorserEntries, ReminderEntry } from './reminders.js';
export { ReminderScheduler } from './reminder-schedule.js';
export type { ReminderSchedulerOptions, ReminderRun } from './reminder-schedule.js';
export { uploadConfirmationMessage, abuseReportMessage, abuseReportText, actionUrl } from './confirmation.js';
export type { UploadConfirmation, AbuseReport } from './confirmation.js';
