/**
 * The endorser reminders of §6.4 on a schedule, sent through real mailers: rounds when due and
 * not before, a round left open by an SMTP outage taken up again without mailing anyone twice,
 * and a restart that neither repeats nor skips a round.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMailer, loadMailSettings, ReminderScheduler } from '../../src/mail/index.js';
import type { EndorserEntries } from '../../src/mail/index.js';
import { parseMime, startSmtp } from '../helpers/smtp.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('stratus-mail-reminders-');
const DAY = 86_400_000;
const start = Date.parse('2026-12-06T08:00:00Z');

const endorsers: EndorserEntries[] = [
  { email: 'jane@example.org', entries: [{ identifier: 'IOeo3R5qEdCas5j_r1HxVne3JMk', created: '2026-12-05T09:00:00Z', valid: '2026-12-07T09:00:00Z' }] },
  { email: 'joe@example.org', entries: [{ identifier: 'MMZu9WvwKIro-rtBQfDk4PsKO7_', created: '2026-11-01T10:00:00Z', valid: '2027-06-01T00:00:00Z' }] },
];

const subjectsIn = (outbox: string): string[] => readdirSync(outbox).sort().map((n) => `${parseMime(readFileSync(join(outbox, n), 'utf8')).headers.get('to')}: ${parseMime(readFileSync(join(outbox, n), 'utf8')).headers.get('subject')}`);

test('rounds go out when due: warnings daily, summaries every 30 days; a restarted scheduler neither repeats nor skips', async () => {
  const data = join(dir, 'outbox-run');
  const settings = loadMailSettings(() => undefined, data, 'stratus.cfg');
  let clock = start;
  const make = (): ReminderScheduler => new ReminderScheduler({
    mailer: createMailer(settings), endorsers: async () => endorsers, marketplaceUrl: () => 'http://127.0.0.1:9204',
    stateFile: join(data, 'reminders.json'), now: () => new Date(clock),
  });
  const first = make();
  assert.deepEqual(await first.runDue(), { summaries: 2, warnings: 1, failed: 0 });
  assert.deepEqual(subjectsIn(settings.outboxDir), [
    'jane@example.org: Marketplace entry expiring soon (1)',
    'jane@example.org: Your Marketplace entries (1 valid)',
    'joe@example.org: Your Marketplace entries (1 valid)',
  ]);
  clock += DAY / 2;
  assert.deepEqual(await first.runDue(), { summaries: 0, warnings: 0, failed: 0 });
  // Restarted the next day: the warning round is due again, the summary is not.
  clock = start + DAY;
  const second = make();
  assert.deepEqual(await second.runDue(), { summaries: 0, warnings: 1, failed: 0 });
  clock = start + 30 * DAY;
  assert.deepEqual(await make().runDue(), { summaries: 2, warnings: 0, failed: 0 });
  assert.equal(readdirSync(settings.outboxDir).length, 6);
});

test('an SMTP server that refuses one recipient (550): MAIL_FAILED for that one, the round stays open and later reaches only those still without their mail', async () => {
  let refuse = true;
  const smtp = await startSmtp({ refuseRecipient: (a) => refuse && a === 'joe@example.org' });
  const mail: Record<string, string> = { host: '127.0.0.1', port: String(smtp.port), security: 'none' };
  const errors: string[] = [];
  const scheduler = new ReminderScheduler({
    mailer: createMailer(loadMailSettings((k) => mail[k], dir, 'stratus.cfg', Object.keys(mail))),
    endorsers: async () => endorsers, marketplaceUrl: () => 'http://127.0.0.1:9204',
    stateFile: join(dir, 'smtp-reminders.json'), now: () => new Date(start), summaryEveryMs: 30 * DAY,
    onError: (e, to) => errors.push(`${to}: ${(e as Error).message}`),
  });
  assert.deepEqual(await scheduler.runDue(), { summaries: 1, warnings: 1, failed: 1 });
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? '', new RegExp(`^joe@example\\.org: SMTP server 127\\.0\\.0\\.1:${smtp.port} refused the sender or the recipient: 550`));
  assert.deepEqual(smtp.arrived.map((a) => a.rcptTo.join()), ['jane@example.org', 'jane@example.org']);
  refuse = false;
  assert.deepEqual(await scheduler.runDue(), { summaries: 1, warnings: 0, failed: 0 });
  assert.deepEqual(smtp.arrived.map((a) => a.rcptTo.join()), ['jane@example.org', 'jane@example.org', 'joe@example.org']);
  assert.deepEqual(await scheduler.runDue(), { summaries: 0, warnings: 0, failed: 0 });
});

test('start() checks at once and stop() ends the timer', async () => {
  const data = join(dir, 'timer');
  const settings = loadMailSettings(() => undefined, data, 'stratus.cfg');
  const scheduler = new ReminderScheduler({
    mailer: createMailer(settings), endorsers: async () => endorsers, marketplaceUrl: () => 'http://127.0.0.1:9204',
    stateFile: join(data, 'reminders.json'), now: () => new Date(start), checkEveryMs: 20,
  });
  scheduler.start();
  await new Promise((r) => setTimeout(r, 200));
  await scheduler.stop();
  assert.equal(readdirSync(settings.outboxDir).length, 3);
});

test('an endorser address no mailer takes (not one plain address) fails once and does not hold the round open', async () => {
  // Regression: EMAIL_INVALID kept the round open, so it was retried every hour and no later round ever started.
  const data = join(dir, 'bad-address');
  const settings = loadMailSettings(() => undefined, data, 'stratus.cfg');
  let clock = start;
  const errors: string[] = [];
  const withBad: EndorserEntries[] = [{ email: 'not an address', entries: endorsers[0]!.entries }, ...endorsers];
  const scheduler = new ReminderScheduler({
    mailer: createMailer(settings), endorsers: async () => withBad, marketplaceUrl: () => 'http://127.0.0.1:9204',
    stateFile: join(data, 'reminders.json'), now: () => new Date(clock), onError: (e, to) => errors.push(`${to}: ${(e as Error).message}`),
  });
  assert.deepEqual(await scheduler.runDue(), { summaries: 2, warnings: 1, failed: 2 });
  assert.equal(errors.length, 2);
  assert.match(errors[0] ?? '', /^not an address: recipient "not an address" is not a plain e-mail address/);
  clock += DAY / 2;
  assert.deepEqual(await scheduler.runDue(), { summaries: 0, warnings: 0, failed: 0 }, 'both rounds are done');
  clock = start + DAY;
  assert.deepEqual(await scheduler.runDue(), { summaries: 0, warnings: 1, failed: 1 }, 'the next day\'s round starts');
});
