import { isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import nodemailer from 'nodemailer';
import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { StratusError } from '../domain/errors.js';
import { toNodemailer } from './compose.js';
import type { Mailer, MailMessage } from './mailer.js';
import type { SmtpSettings } from './settings.js';

/** Mail through an SMTP server: one connection per message, every wait bounded by the timeout. */
export class SmtpMailer implements Mailer {
  readonly destination: string;
  private readonly transport: Transporter<SMTPTransport.SentMessageInfo>;

  constructor(private readonly settings: SmtpSettings, private readonly from: string) {
    this.destination = `smtp://${settings.host}:${settings.port}`;
    const t = settings.timeoutMs;
    const options: SMTPTransport.Options = {
      host: settings.host,
      port: settings.port,
      secure: settings.security === 'tls',
      // starttls: refuse to go on in clear when the server offers no STARTTLS, rather than fall back.
      requireTLS: settings.security === 'starttls',
      ignoreTLS: settings.security === 'none',
      connectionTimeout: t,
      greetingTimeout: t,
      socketTimeout: t,
      dnsTimeout: t,
      tls: {
        ...(isIP(settings.host) ? {} : { servername: settings.host }),
        minVersion: 'TLSv1.2',
        rejectUnauthorized: true,
        // Node takes `ca` as the only roots: the system's are kept beside the configured ones.
        ...(settings.ca ? { ca: [...rootCertificates, ...settings.ca] } : {}),
      },
      disableFileAccess: true,
      disableUrlAccess: true,
      ...(settings.auth ? { auth: { user: settings.auth.user, pass: settings.auth.password } } : {}),
    };
    this.transport = nodemailer.createTransport(options);
  }

  async send(message: MailMessage): Promise<void> {
    const mail = toNodemailer(message, this.from);
    try {
      await this.transport.sendMail(mail);
    } catch (e) {
      throw smtpError(e, this.settings);
    }
  }
}

interface NodemailerError extends Error { code?: string; command?: string; response?: string; responseCode?: number }

/** What failed, with which server, and how to fix it. */
export function smtpError(e: unknown, s: SmtpSettings): StratusError {
  const err = e as NodemailerError;
  if (e instanceof StratusError) return e;
  const server = `SMTP server ${s.host}:${s.port}`;
  const reason = (err.response ?? err.message ?? String(e)).replace(/\s+/g, ' ').trim();
  const fail = (message: string, hint: string): StratusError => new StratusError('MAIL_FAILED', message, { hint, cause: e });
  const tlsTrouble = /certificate|self[- ]signed|SSL|TLS|wrong version|handshake|EPROTO/i.test(`${err.message} ${err.code ?? ''}`);
  switch (err.code) {
    case 'EAUTH':
      return fail(`${server} refused the login of ${s.auth?.user ?? '(no user)'}: ${reason}`, 'Check [mail] user and password in stratus.cfg.');
    case 'ETIMEDOUT':
      return fail(`${server} did not answer within ${s.timeoutMs / 1000} s (${reason})`, 'Check [mail] host and port, and that a firewall lets the server reach it; [mail] timeout_s sets the wait.');
    case 'EDNS':
      return fail(`${server}: the host name does not resolve (${reason})`, 'Check [mail] host in stratus.cfg.');
    case 'EENVELOPE':
      return fail(`${server} refused the sender or the recipient: ${reason}`, 'Check [mail] from, and that the server relays for this host (or that the recipient exists).');
    case 'EMESSAGE':
      return fail(`${server} refused the message: ${reason}`, 'Read the server\'s answer; it may limit message size or content.');
    default:
      if (err.code === 'ETLS' || tlsTrouble) {
        return fail(`TLS with ${server} failed (security = ${s.security}): ${reason}`,
          'Check [mail] security (tls for port 465, starttls for 587) and, for a private CA, [mail] ca_file with its certificate; the certificate must name the host.');
      }
      if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ECONNRESET/.test(`${err.message}`)) {
        return fail(`cannot connect to ${server}: ${reason}`, 'Check [mail] host and port in stratus.cfg and that the SMTP server runs.');
      }
      return fail(`sending mail through ${server} failed: ${reason}`, 'Check the [mail] section of stratus.cfg; without host, mail goes to <data-dir>/outbox/.');
  }
}
