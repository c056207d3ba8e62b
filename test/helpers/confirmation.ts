/**
 * Uploads held for confirmation by e-mail (validate_email), for the tests of a real
 * `stratus serve`: a server configured for it, the links read back from the mail that
 * arrived, and the pending uploads counted in its database.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { startServerProcess } from './server.js';
import type { ServerProcess } from './server.js';
import { dataDirWithConfig } from './upload.js';
import { parseMime } from './smtp.js';

export interface ConfirmingServerOptions {
  /** The loopback SMTP server's port; without it mail goes to the outbox. */
  smtpPort?: number;
  /** pending_upload_hours (default: the server's, 24). */
  hours?: number;
  /** Subject DNs of the trusted endorsers (trust_endorsers); none: no trust policy. */
  trusted?: string[];
  adminEmail?: string;
  /** More [marketplace] lines. */
  marketplace?: string;
  env?: Record<string, string>;
}

/** The stratus.cfg of a server that confirms uploads by e-mail. */
export function confirmingConfig(dir: string, name: string, o: ConfirmingServerOptions): string {
  const lines = ['[marketplace]', 'validate_email = true'];
  if (o.hours !== undefined) lines.push(`pending_upload_hours = ${o.hours}`);
  if (o.adminEmail) lines.push(`admin_email = ${o.adminEmail}`);
  if (o.trusted) {
    const file = join(dir, `${name}-trusted.txt`);
    writeFileSync(file, o.trusted.join('\n') + '\n');
    lines.push(`trust_endorsers = ${file}`);
  }
  if (o.marketplace) lines.push(o.marketplace);
  if (o.smtpPort !== undefined) lines.push('[mail]', 'host = 127.0.0.1', `port = ${o.smtpPort}`, 'security = none', 'from = marketplace@stratus.example');
  return lines.join('\n') + '\n';
}

export async function startConfirmingServer(dir: string, name: string, o: ConfirmingServerOptions = {}): Promise<ServerProcess> {
  return startServerProcess(dataDirWithConfig(dir, name, confirmingConfig(dir, name, o)), [], o.env ?? {});
}

export interface ConfirmationMail {
  to: string | undefined;
  subject: string | undefined;
  text: string;
  token: string;
  confirm: string;
  abort: string;
  abuse: string;
}

/** The confirmation mail's parts; fails unless it holds exactly the three links of one token. */
export function readConfirmation(raw: string): ConfirmationMail {
  const msg = parseMime(raw);
  const text = msg.body.toString('utf8');
  const links = [...text.matchAll(/(https?:\/\/\S+\/action\/([A-Za-z0-9_-]+)\/(confirm|abort|abuse)\/)/g)];
  assert.deepEqual(links.map((m) => m[3]), ['confirm', 'abort', 'abuse'], `three links in order:\n${text}`);
  const token = links[0]?.[2] ?? '';
  assert.ok(links.every((m) => m[2] === token), 'one token for the three links');
  return { to: msg.headers.get('to'), subject: msg.headers.get('subject'), text, token, confirm: links[0]?.[1] ?? '', abort: links[1]?.[1] ?? '', abuse: links[2]?.[1] ?? '' };
}

/** The pending_uploads rows of a server's SQLite database (read-only; the server keeps running). */
export function pendingRows(dataDir: string): Array<{ token_hash: string; identifier: string; email: string; expires: string }> {
  const db = new BetterSqlite3(join(dataDir, 'stratus.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT token_hash, identifier, email, expires FROM pending_uploads ORDER BY received').all() as Array<{ token_hash: string; identifier: string; email: string; expires: string }>;
  } finally {
    db.close();
  }
}

/** A request to a confirmation link, as the page's button (same origin) or a client sends it. */
export async function follow(url: string, method: 'GET' | 'POST' | 'HEAD', headers: Record<string, string> = {}, body?: string): Promise<{ status: number; type: string; text: string; headers: Headers }> {
  const res = await fetch(url, { method, headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  return { status: res.status, type: (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '', text, headers: res.headers };
}

/** The page's button: an empty form posted from the server's own origin, as a browser sends it. */
export function pressButton(url: string, accept = 'text/html'): ReturnType<typeof follow> {
  return follow(url, 'POST', { 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin, 'sec-fetch-site': 'same-origin', accept }, '');
}

/** Waits until `check` holds, polling. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
