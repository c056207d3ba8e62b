/**
 * The port through which Stratus sends mail (the saved-image notice of §2.4 step 8, upload
 * confirmations and endorser reminders of §6.3/§6.4). Implementations: SMTP through
 * nodemailer, or an outbox folder of .eml files when no SMTP server is configured.
 */
export interface MailAttachment {
  filename: string;
  content: string | Buffer;
  contentType: string;
}

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  attachments?: MailAttachment[];
}

export interface Mailer {
  /** Sends one message; rejects with a StratusError saying why it could not. */
  send(message: MailMessage): Promise<void>;
  /** Where mail goes, for the server's start-up line (`smtp://host:port` or the outbox folder). */
  readonly destination: string;
}
