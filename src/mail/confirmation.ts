import type { MailMessage } from './mailer.js';
import type { AbuseReport, UploadConfirmation } from '../domain/upload-confirmation.js';

export type { AbuseReport, UploadConfirmation };

/** `<base>/action/<token>/<action>/`, the form of StratusLab's links (with their trailing slash). */
export function actionUrl(base: string, token: string, action: 'confirm' | 'abort' | 'abuse'): string {
  return `${base.replace(/\/+$/, '')}/action/${encodeURIComponent(token)}/${action}/`;
}

// eslint-disable-next-line no-control-regex
const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();

/** The mail of §6.3: what was uploaded under the endorser's address, and the three links. Pure: the caller sends it. */
export function uploadConfirmationMessage(c: UploadConfirmation): MailMessage {
  const mp = c.base.replace(/\/+$/, '');
  const text = [
    `A new metadata entry ${c.deprecating ? 'deprecating' : 'for'} image ID ${c.identifier}, endorsed at ${c.created} with this email address, `
      + `has been uploaded to the Stratus Marketplace ${mp}${c.title ? ` (title: ${oneLine(c.title)})` : ''}. `
      + 'Please either confirm or abort this upload:',
    '',
    `  Confirm: ${actionUrl(mp, c.token, 'confirm')}`,
    `  Abort:   ${actionUrl(mp, c.token, 'abort')}`,
    '',
    'If you did not upload this entry, report it to the administrators (it is deleted too):',
    '',
    `  Abuse:   ${actionUrl(mp, c.token, 'abuse')}`,
    '',
    'Each link opens a page with a button: nothing happens until you press it.',
    `The links work until ${c.expires}; until then the entry is not in the Marketplace.`,
    '',
  ].join('\n');
  return { to: c.to, subject: `Confirm the upload of metadata entry ${c.identifier}`, text };
}

/** The report to `[marketplace] admin_email`. Pure: the caller sends it. */
export function abuseReportMessage(adminEmail: string, marketplaceUrl: string, r: AbuseReport): MailMessage {
  return { to: adminEmail, subject: `Abuse reported: metadata entry ${r.identifier}`, text: abuseReportText(marketplaceUrl, r) };
}

/** The report's lines, also what the server logs when no admin_email is set. */
export function abuseReportText(marketplaceUrl: string, r: AbuseReport): string {
  return [
    `The endorser ${r.email} reported an upload to the Marketplace ${marketplaceUrl.replace(/\/+$/, '')} as abuse; it was deleted.`,
    '',
    `  Identifier:       ${r.identifier}`,
    `  Endorser e-mail:  ${r.email}`,
    `  Endorsed at:      ${r.created}`,
    `  Certificate:      ${oneLine(r.subject ?? '(none)')}`,
    `  Uploaded at:      ${r.received}`,
    `  Uploaded from:    ${r.client ?? '(unknown)'}${r.uploaderId ? ` by account id ${r.uploaderId}` : ' without an account'}`,
    '',
  ].join('\n');
}
