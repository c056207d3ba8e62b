import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStratusError } from '../domain/errors.js';
import { loadMailSettings, mailDestinationLine } from './settings.js';

const load = (mail: Record<string, string>): ReturnType<typeof loadMailSettings> =>
  loadMailSettings((k) => mail[k], '/data', '/data/stratus.cfg', Object.keys(mail));

const refused = (mail: Record<string, string>, text: string): void => {
  assert.throws(() => load(mail), (e: unknown) => isStratusError(e, 'CONFIG_INVALID') && e.message.startsWith('/data/stratus.cfg: [mail] ') && e.message.includes(text),
    `${JSON.stringify(mail)} should be refused with "${text}"`);
};

test('no [mail] host: the outbox under the data dir, from noreply@stratuslab.eu', () => {
  const s = load({});
  assert.deepEqual(s, { from: 'noreply@stratuslab.eu', outboxDir: '/data/outbox' });
  assert.equal(mailDestinationLine(s), 'No SMTP server configured: mail goes to /data/outbox');
  assert.equal(load({ from: 'images@cloud.example.org' }).from, 'images@cloud.example.org');
});

test('an SMTP server: the port follows the security, auth and timeout as given', () => {
  assert.deepEqual(load({ host: 'smtp.example.org' }).smtp, { host: 'smtp.example.org', port: 587, security: 'starttls', timeoutMs: 30_000 });
  assert.equal(load({ host: 'smtp.example.org', security: 'tls' }).smtp?.port, 465);
  assert.equal(load({ host: '127.0.0.1', security: 'none' }).smtp?.port, 25);
  const s = load({ host: 'mx.example.org', port: '2525', security: 'tls', user: 'stratus', password: ' p#ss;w=rd', timeout_s: '2.5', from: 'cloud@example.org' });
  assert.deepEqual(s.smtp, { host: 'mx.example.org', port: 2525, security: 'tls', timeoutMs: 2500, auth: { user: 'stratus', password: 'p#ss;w=rd' } });
  assert.equal(mailDestinationLine(s), 'Mail goes to SMTP server mx.example.org:2525 (TLS, as stratus), from cloud@example.org');
  // A relay on this host may take a password without TLS.
  assert.equal(load({ host: 'localhost', security: 'none', user: 'u', password: 'p' }).smtp?.auth?.user, 'u');
  assert.equal(load({ host: '[::1]', security: 'none', user: 'u', password: 'p' }).smtp?.host, '::1');
});

test('bad [mail] values stop the server, naming the key', () => {
  refused({ host: 'smtp.example.org', security: 'ssl' }, 'security = ssl is not starttls, tls or none');
  refused({ host: 'smtp.example.org', port: '0' }, 'port = 0 is not a port number 1-65535');
  refused({ host: 'smtp.example.org', port: '25x' }, 'port = 25x is not');
  refused({ host: 'smtp.example.org', port: '70000' }, 'port = 70000 is not');
  refused({ host: 'smtp.example.org', timeout_s: '0' }, 'timeout_s = 0 is not');
  refused({ host: 'smtp example.org' }, 'host = smtp example.org is not a host name');
  refused({ host: 'smtp.example.org', user: 'u' }, 'user is set without [mail] password');
  refused({ host: 'smtp.example.org', password: 'p' }, 'password is set without [mail] user');
  refused({ host: 'smtp.example.org', security: 'none', user: 'u', password: 'p' }, 'security = none would send the password for u unencrypted to smtp.example.org');
  refused({ from: 'Stratus <noreply@example.org>' }, 'from = Stratus <noreply@example.org> is not a plain e-mail address');
  refused({ from: 'a@b.org, c@d.org' }, 'from = a@b.org, c@d.org is not');
  refused({ port: '25' }, 'port is set but host is not');
  refused({ user: 'u', password: 'p' }, 'user is set but host is not');
  refused({ hostname: 'smtp.example.org' }, 'hostname is not a known key');
  refused({ host: 'smtp.example.org', ca_file: '/nonexistent/ca.pem' }, 'ca_file names /nonexistent/ca.pem, which cannot be read (ENOENT)');
  refused({ host: 'smtp.example.org', security: 'none', ca_file: '/etc/hostname' }, 'ca_file is set but security = none');
});

test('ca_file must hold PEM certificates, which are kept', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stratus-mail-'));
  try {
    writeFileSync(join(dir, 'empty.pem'), 'not a certificate\n');
    refused({ host: 'smtp.example.org', ca_file: join(dir, 'empty.pem') }, 'which holds no PEM certificate');
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----';
    writeFileSync(join(dir, 'ca.pem'), `${pem}\n${pem}\n`);
    assert.equal(load({ host: 'smtp.example.org', ca_file: join(dir, 'ca.pem') }).smtp?.ca?.length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
