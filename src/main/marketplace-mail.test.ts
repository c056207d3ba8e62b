import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMarketplaceMail } from './marketplace-mail.js';
import { isStratusError } from '../domain/errors.js';

const settingsOf = (values: Record<string, string>): ReturnType<typeof loadMarketplaceMail> => loadMarketplaceMail((key) => values[key], 'stratus.cfg');

test('defaults: no confirmation by e-mail (StratusLab\'s shipped file), links valid 24 h, no admin address, no reminders', () => {
  assert.deepEqual(settingsOf({}), { validateEmail: false, pendingUploadHours: 24, endorserReminder: false });
});

test('every key is read; hours may have decimals', () => {
  assert.deepEqual(settingsOf({ validate_email: 'true', pending_upload_hours: '0.5', admin_email: 'admins@example.org', endorser_reminder: 'true' }),
    { validateEmail: true, pendingUploadHours: 0.5, adminEmail: 'admins@example.org', endorserReminder: true });
});

test('a bad value stops the server, naming the key', () => {
  for (const [key, value, why] of [
    ['validate_email', 'yes', /\[marketplace\] validate_email = yes is not true or false/],
    ['endorser_reminder', '1', /endorser_reminder = 1 is not true or false/],
    ['pending_upload_hours', '0', /pending_upload_hours = 0 is not a number of hours above 0/],
    ['pending_upload_hours', '-1', /pending_upload_hours = -1/],
    ['pending_upload_hours', '9000', /at most 8760/],
    ['pending_upload_hours', '1e3', /pending_upload_hours = 1e3/],
    ['admin_email', 'Admins <admins@example.org>', /admin_email = Admins <admins@example\.org> is not one plain e-mail address/],
    ['admin_email', 'a@example.org, b@example.org', /is not one plain e-mail address/],
  ] as const) {
    assert.throws(() => settingsOf({ [key]: value }), (e) => isStratusError(e, 'CONFIG_INVALID') && why.test(e.message), `${key} = ${value}`);
  }
});
