import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { StratusError } from '../domain/errors.js';
import { isPlainAddress } from './compose.js';

/** StratusLab's `save_image_reply_to_email` default (§2.4 step 8). */
export const DEFAULT_FROM = 'noreply@stratuslab.eu';
export const DEFAULT_TIMEOUT_S = 30;

export type MailSecurity = 'starttls' | 'tls' | 'none';

export interface SmtpSettings {
  host: string;
  port: number;
  /** starttls: plain connection upgraded before anything else is sent (refused if the server cannot); tls: TLS from the first byte; none: no TLS. */
  security: MailSecurity;
  auth?: { user: string; password: string };
  /** PEM CA certificates the server's certificate must chain to, besides the system's. */
  ca?: string[];
  /** Bound on connecting, the greeting and each later wait, in ms. */
  timeoutMs: number;
}

/** Where mail goes: an SMTP server, or the outbox folder when `smtp` is absent. */
export interface MailSettings {
  from: string;
  smtp?: SmtpSettings;
  outboxDir: string;
}

export const MAIL_KEYS = ['host', 'port', 'security', 'user', 'password', 'from', 'ca_file', 'timeout_s'] as const;

const DEFAULT_PORTS: Record<MailSecurity, number> = { starttls: 587, tls: 465, none: 25 };

/**
 * Reads `[mail]` of stratus.cfg, all optional:
 *   host (the SMTP server; without it mail goes to <data-dir>/outbox/, one .eml file each),
 *   port (587 for starttls, 465 for tls, 25 for none), security (starttls | tls | none; starttls),
 *   user and password (both or neither; AUTH over the secured connection), from (the sender,
 *   StratusLab's save_image_reply_to_email; noreply@stratuslab.eu), ca_file (PEM CA
 *   certificates to trust for the server's certificate, besides the system's), timeout_s
 *   (connecting, greeting and each later reply; 30).
 * `keys` (the keys present in the section) lets a misspelt key stop the server rather than
 * send mail somewhere unexpected.
 */
export function loadMailSettings(get: (key: string) => string | undefined, dataDir: string, cfgPath: string, keys: Iterable<string> = []): MailSettings {
  const bad = (key: string, message: string, hint?: string): never => {
    throw new StratusError('CONFIG_INVALID', `${cfgPath}: [mail] ${key} ${message}`, hint ? { hint } : {});
  };
  for (const key of keys) {
    if (!(MAIL_KEYS as readonly string[]).includes(key)) bad(key, 'is not a known key', `The [mail] keys are ${MAIL_KEYS.join(', ')}.`);
  }
  const value = (key: string): string | undefined => {
    const raw = get(key)?.trim();
    if (raw === undefined || raw === '') return undefined;
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(raw)) bad(key, 'holds a line break or control character', 'Write the value on one line.');
    return raw;
  };
  const from = value('from') ?? DEFAULT_FROM;
  if (!isPlainAddress(from)) bad('from', `= ${from} is not a plain e-mail address`, 'Give one address such as noreply@example.org, with no name or list.');
  const outboxDir = join(dataDir, 'outbox');
  // An IPv6 address may be written in brackets, as in URLs; the transport takes it bare.
  const host = value('host')?.replace(/^\[(.*)\]$/, '$1');
  if (host === undefined) {
    for (const key of ['port', 'security', 'user', 'password', 'ca_file', 'timeout_s']) {
      if (value(key) !== undefined) bad(key, 'is set but host is not', 'Give [mail] host (the SMTP server), or remove the key: without a host, mail goes to the outbox.');
    }
    return { from, outboxDir };
  }
  if (!/^[A-Za-z0-9.-]+$/.test(host) && isIP(host) === 0) bad('host', `= ${host} is not a host name or IP address`);
  const security = value('security') ?? 'starttls';
  if (!(security in DEFAULT_PORTS)) bad('security', `= ${security} is not starttls, tls or none`, 'starttls (port 587) or tls (port 465) protect the password and the mail; none only for a relay on this host.');
  const sec = security as MailSecurity;
  const portText = value('port');
  const port = portText === undefined ? DEFAULT_PORTS[sec] : Number(portText);
  if (portText !== undefined && (!/^\d+$/.test(portText) || port < 1 || port > 65535)) bad('port', `= ${portText} is not a port number 1-65535`);
  const timeoutText = value('timeout_s');
  const timeoutS = timeoutText === undefined ? DEFAULT_TIMEOUT_S : Number(timeoutText);
  if (timeoutText !== undefined && !(/^\d+(\.\d+)?$/.test(timeoutText) && timeoutS > 0 && timeoutS <= 3600)) bad('timeout_s', `= ${timeoutText} is not a number of seconds above 0 (at most 3600)`);
  const user = value('user');
  // A password may hold anything but a line break; only surrounding spaces are trimmed, as for every INI value.
  const password = value('password');
  if ((user === undefined) !== (password === undefined)) bad(user === undefined ? 'password' : 'user', `is set without [mail] ${user === undefined ? 'user' : 'password'}`, 'Give both user and password, or neither.');
  if (user !== undefined && sec === 'none' && !isLoopback(host)) {
    bad('security', `= none would send the password for ${user} unencrypted to ${host}`, 'Use security = starttls or tls (none only for a relay on this host).');
  }
  const caFile = value('ca_file');
  const smtp: SmtpSettings = { host, port, security: sec, timeoutMs: Math.round(timeoutS * 1000) };
  if (user !== undefined && password !== undefined) smtp.auth = { user, password };
  if (caFile !== undefined) {
    if (sec === 'none') bad('ca_file', 'is set but security = none uses no TLS', 'Set security = starttls or tls, or remove ca_file.');
    let pem = '';
    try {
      pem = readFileSync(caFile, 'utf8');
    } catch (e) {
      bad('ca_file', `names ${caFile}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'Give a PEM file of CA certificates readable by the server.');
    }
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) bad('ca_file', `names ${caFile}, which holds no PEM certificate`, 'Give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----).');
    smtp.ca = blocks;
  }
  return { from, smtp, outboxDir };
}

function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The start-up line: where mail goes. */
export function mailDestinationLine(settings: MailSettings): string {
  const s = settings.smtp;
  return s
    ? `Mail goes to SMTP server ${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port} (${s.security === 'none' ? 'no TLS' : s.security === 'tls' ? 'TLS' : 'STARTTLS'}${s.auth ? `, as ${s.auth.user}` : ''}), from ${settings.from}`
    : `No SMTP server configured: mail goes to ${settings.outboxDir}`;
}
