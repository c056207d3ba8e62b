import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endorserSummaryMessage, entryXmlUrl, expiringSoon, expiryWarningMessage } from './reminders.js';

const now = new Date('2026-12-06T08:00:00Z');
const jane = {
  email: 'jane+cloud@example.org',
  entries: [
    { identifier: 'MMZu9WvwKIro-rtBQfDk4PsKO7_', created: '2026-11-01T10:00:00Z', valid: '2027-06-01T00:00:00Z', title: 'Debian 12\r\nBcc: x@y.org' },
    { identifier: 'IOeo3R5qEdCas5j_r1HxVne3JMk', created: '2026-12-05T09:00:00Z', valid: '2026-12-07T09:00:00Z' },
    { identifier: 'HZTKYZgX7XzSokCHMB60lS0wsiv', created: '2026-12-01T09:00:00Z', valid: '2026-12-09T07:59:00Z' },
    { identifier: 'Ce3uQbAaxJMbTBaCXWO2FZPRFTT', created: '2026-12-01T09:00:00Z' },
  ],
};

test('expiring soon: after now and within 3 days, soonest first; no validity never expires', () => {
  assert.deepEqual(expiringSoon(jane.entries, now).map((e) => e.identifier), ['IOeo3R5qEdCas5j_r1HxVne3JMk', 'HZTKYZgX7XzSokCHMB60lS0wsiv']);
  assert.deepEqual(expiringSoon([{ identifier: 'x', created: '2026-01-01T00:00:00Z', valid: '2026-12-06T07:59:59Z' }], now), []);
});

test('the daily warning lists the entries expiring within 3 days with their Retrieve entry URL (§6.4)', () => {
  const m = expiryWarningMessage('https://mp.example.org/', jane, now);
  assert.ok(m);
  assert.equal(m.to, 'jane+cloud@example.org');
  assert.equal(m.subject, 'Marketplace entries expiring soon (2)');
  assert.match(m.text, /^ {2}Retrieve entry: https:\/\/mp\.example\.org\/metadata\/IOeo3R5qEdCas5j_r1HxVne3JMk\/jane%2Bcloud@example\.org\/2026-12-05T09:00:00Z\?media=xml$/m);
  assert.match(m.text, /HZTKYZgX7XzSokCHMB60lS0wsiv\/jane%2Bcloud@example\.org\/2026-12-01T09:00:00Z\?media=xml/);
  assert.doesNotMatch(m.text, /MMZu9WvwKIro/);
  assert.equal(expiryWarningMessage('https://mp.example.org', { email: 'a@b.org', entries: [jane.entries[0]!] }, now), undefined);
  assert.equal(entryXmlUrl('http://h', 'a%b@c.org', { identifier: 'x', created: '2026-01-01T00:00:00Z' }), 'http://h/metadata/x/a%25b@c.org/2026-01-01T00:00:00Z?media=xml');
});

test('the 30-day summary lists every valid entry with the stratus-deprecate-metadata hint (§6.4); titles stay on one line', () => {
  const m = endorserSummaryMessage('https://mp.example.org', jane);
  assert.ok(m);
  assert.equal(m.subject, 'Your Marketplace entries (4 valid)');
  for (const e of jane.entries) {
    assert.match(m.text, new RegExp(`^ {2}${e.identifier} {2}endorsed ${e.created}`, 'm'));
    assert.match(m.text, new RegExp(`^ {2}stratus-deprecate-metadata --email=jane\\+cloud@example\\.org ${e.identifier}$`, 'm'));
  }
  assert.match(m.text, /Debian 12 Bcc: x@y\.org$/m);
  assert.equal(endorserSummaryMessage('https://mp.example.org', { email: 'a@b.org', entries: [] }), undefined);
});
