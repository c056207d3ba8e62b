import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import nodemailer from 'nodemailer';
import { StratusError } from '../domain/errors.js';
import { writeFileAtomic } from '../platform/files.js';
import { toNodemailer } from './compose.js';
import type { Mailer, MailMessage } from './mailer.js';

/**
 * Mail kept as files when no SMTP server is configured: one RFC 5322 message (CRLF lines, MIME
 * attachments) per `.eml` file, written beside its final name and renamed into place, so a
 * reader never sees half a message. Names sort by the time they were written.
 */
export class OutboxMailer implements Mailer {
  readonly destination: string;
  private readonly compose = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows', disableFileAccess: true, disableUrlAccess: true });
  private sequence = 0;

  constructor(readonly dir: string, private readonly from: string) {
    this.destination = dir;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // A crash between write and rename leaves a hidden temporary file; it was never a message.
      for (const name of readdirSync(dir)) if (name.startsWith('.') && name.endsWith('.tmp')) rmSync(join(dir, name), { force: true });
    } catch (e) {
      throw new StratusError('CONFIG_INVALID', `cannot use ${dir} as the mail outbox: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        { hint: 'Make the data dir writable by the server, or configure [mail] host (an SMTP server) in stratus.cfg.' });
    }
  }

  /** Writes the message; resolves with the file's path. */
  async send(message: MailMessage): Promise<void> {
    await this.write(message);
  }

  async write(message: MailMessage): Promise<string> {
    const info = await this.compose.sendMail(toNodemailer(message, this.from));
    const file = join(this.dir, this.nextName());
    try {
      writeFileAtomic(file, info.message as Buffer, 0o600);
    } catch (e) {
      throw new StratusError('MAIL_FAILED', `cannot write a message to the outbox ${this.dir}: ${(e as Error).message}`, { hint: 'Free space in the data dir and check that the server may write the outbox, or configure [mail] host.', cause: e });
    }
    return file;
  }

  /** `2026-12-06T074822.123Z-000001-a1b2c3.eml`: the time, then a counter for messages of the same millisecond. */
  private nextName(): string {
    const time = new Date().toISOString().replace(/:/g, '');
    this.sequence = (this.sequence + 1) % 1_000_000;
    return `${time}-${String(this.sequence).padStart(6, '0')}-${randomBytes(3).toString('hex')}.eml`;
  }
}
