/**
 * Header and envelope injection into mail: a recipient, subject, attachment name or sender
 * carrying CR/LF (or a list) must add no header and reach nobody else. Performed against a
 * real SMTP server and the outbox, and, for the sender from the server configuration, against
 * a real `stratus serve`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isStratusError } from '../../src/domain/errors.js';
import { createMailer, loadMailSettings } from '../../src/mail/index.js';
import type { Mailer, MailMessage } from '../../src/mail/index.js';
import { runCli } from '../helpers/cli.js';
import { headerLines, parseMime, startSmtp } from '../helpers/smtp.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('stratus-mail-attack-');
const INJECT = '\r\nBcc: victim@evil.example\r\nX-Injected: yes';

async function smtpMailer(): Promise<{ mailer: Mailer; arrived: Awaited<ReturnType<typeof startSmtp>>['arrived'] }> {
  const smtp = await startSmtp({});
  const mail: Record<string, string> = { host: '127.0.0.1', port: String(smtp.port), security: 'none' };
  return { mailer: createMailer(loadMailSettings((k) => mail[k], dir, 'stratus.cfg', Object.keys(mail))), arrived: smtp.arrived };
}

function assertNoInjectedHeader(raw: string): void {
  const lines = headerLines(raw);
  assert.deepEqual(lines.filter((l) => /^(bcc|x-injected):/i.test(l)), [], raw);
  for (const part of parseMime(raw).parts) assert.equal(part.headers.has('x-injected'), false, raw);
}

test('a recipient with CR/LF, or a list of recipients, is refused: nothing reaches the SMTP server', async () => {
  const { mailer, arrived } = await smtpMailer();
  for (const to of [`builder@example.org${INJECT}`, 'builder@example.org\nBcc: victim@evil.example', 'builder@example.org, victim@evil.example', 'Builder <builder@example.org>, victim@evil.example']) {
    let caught: unknown;
    await mailer.send({ to, subject: 'New image created X', text: 'body' }).catch((e: unknown) => { caught = e; });
    assert.ok(isStratusError(caught, 'EMAIL_INVALID'), `${JSON.stringify(to)}: ${String(caught)}`);
  }
  assert.deepEqual(arrived, []);
});

test('a subject or attachment name with CR/LF adds no header, over SMTP and in the outbox', async () => {
  const attack: MailMessage = {
    to: 'builder@example.org',
    subject: `New image created X${INJECT}\r\n\r\nforged body`,
    text: 'the real body',
    attachments: [{ filename: `manifest-not-signed.xml${INJECT}`, content: '<x/>', contentType: `application/xml${INJECT}` }],
  };
  const { mailer, arrived } = await smtpMailer();
  await mailer.send(attack);
  assert.equal(arrived.length, 1);
  assert.deepEqual(arrived[0]?.rcptTo, ['builder@example.org']);
  assertNoInjectedHeader(arrived[0]!.raw);
  assert.match(parseMime(arrived[0]!.raw).parts[0]?.body.toString('utf8') ?? '', /^the real body/);

  const outbox = createMailer(loadMailSettings(() => undefined, join(dir, 'data'), 'stratus.cfg'));
  await outbox.send(attack);
  const [name] = readdirSync(join(dir, 'data', 'outbox'));
  assertNoInjectedHeader(readFileSync(join(dir, 'data', 'outbox', name!), 'utf8'));
});

test('stratus serve refuses a [mail] from or host that continues onto a second line (an injected header)', async () => {
  const data = join(dir, 'serve');
  mkdirSync(data, { recursive: true });
  const cfg = join(data, 'stratus.cfg');
  // An indented line continues the value: the sender would become two lines.
  for (const [text, key] of [
    ['[mail]\nfrom = noreply@example.org\n  Bcc: victim@evil.example\n', 'from'],
    ['[mail]\nhost = 127.0.0.1\n  X-Injected: yes\n', 'host'],
    ['[mail]\nfrom = noreply@example.org, victim@evil.example\n', 'from'],
  ] as const) {
    writeFileSync(cfg, text);
    const r = await runCli(['serve', '--data-dir', data, '--port', '0', '--network', 'none']);
    assert.notEqual(r.code, 0, r.stdout);
    assert.ok(r.stderr.includes(`${cfg}: [mail] ${key} `), r.stderr);
    assert.doesNotMatch(r.stdout, /Stratus serving/);
  }
});
