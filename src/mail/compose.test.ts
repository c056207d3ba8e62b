import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStratusError } from '../domain/errors.js';
import { isPlainAddress, oneLineSubject, toNodemailer } from './compose.js';

test('only plain addresses pass: no names, lists, spaces or line breaks', () => {
  for (const ok of ['jane@example.org', 'jane.doe+images@mail.example.org', 'a_b%c@x-y.org']) assert.ok(isPlainAddress(ok), ok);
  for (const bad of ['', 'jane', 'jane@', '@example.org', 'Jane <jane@example.org>', 'a@b.org, c@d.org', 'a@b.org\r\nBcc: c@d.org', 'a@b.org\nX: y', 'a b@c.org', 'a@b..org', 'a@b.org;c@d.org']) {
    assert.equal(isPlainAddress(bad), false, JSON.stringify(bad));
  }
});

test('subjects stay on one line', () => {
  assert.equal(oneLineSubject('New image created X\r\nBcc: evil@example.org'), 'New image created X Bcc: evil@example.org');
  assert.equal(oneLineSubject('a\u2028b\u0085c\td'), 'a b c d');
});

test('a recipient or sender that is not a plain address is refused before anything is composed', () => {
  assert.throws(() => toNodemailer({ to: 'a@b.org\r\nBcc: c@d.org', subject: 's', text: 't' }, 'noreply@stratuslab.eu'), (e: unknown) => isStratusError(e, 'EMAIL_INVALID') && e.message.startsWith('recipient '));
  assert.throws(() => toNodemailer({ to: 'a@b.org', subject: 's', text: 't' }, 'x@y.org\nBcc: c@d.org'), (e: unknown) => isStratusError(e, 'EMAIL_INVALID') && e.message.startsWith('sender '));
});
