import type Mail from 'nodemailer/lib/mailer/index.js';
import { StratusError } from '../domain/errors.js';
import type { MailMessage } from './mailer.js';
import { isPlainAddress } from '../domain/email.js';

export { isPlainAddress };

/** Refuses, naming `what`, any value that is not one plain address. */
export function plainAddress(value: string, what: string): string {
  if (!isPlainAddress(value)) {
    throw new StratusError('EMAIL_INVALID', `${what} ${JSON.stringify(value)} is not a plain e-mail address`, { hint: 'Give one address such as jane@example.org, with no name, list, spaces or line breaks.' });
  }
  return value;
}

/** A subject on one line: line breaks and other control characters become spaces, so no text can start a header. */
export function oneLineSubject(subject: string): string {
  // eslint-disable-next-line no-control-regex
  return subject.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
}

/**
 * The nodemailer message for `message` from `from`. Nothing the caller passes reaches a header
 * unchecked, and attachments carry their content only (file and URL access are off as well in
 * both transports), so a message can never read a file of the server.
 */
export function toNodemailer(message: MailMessage, from: string): Mail.Options {
  const to = plainAddress(message.to, 'recipient');
  return {
    from: plainAddress(from, 'sender ([mail] from)'),
    to,
    envelope: { from, to: [to] },
    subject: oneLineSubject(message.subject),
    text: message.text,
    attachments: (message.attachments ?? []).map((a) => ({
      filename: oneLineSubject(a.filename),
      content: a.content,
      contentType: oneLineSubject(a.contentType),
    })),
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}
