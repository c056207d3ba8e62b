/**
 * The outbox: with no SMTP server, each message is one complete RFC 5322 file in
 * <data-dir>/outbox/, named in time order, never seen half-written; `stratus serve` says where
 * mail goes at start-up, and stops on a bad [mail] key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isStratusError } from '../../src/domain/errors.js';
import { OutboxMailer } from '../../src/mail/outbox.js';
import { savedImageMessage } from '../../src/mail/index.js';
import { runCli } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { parseMime, startSmtp } from '../helpers/smtp.js';
import { mailerConformance } from '../conformance/mailer.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir('stratus-mail-outbox-');
const draftXml = '<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>\n';
const noticeFor = (id: string): NonNullable<ReturnType<typeof savedImageMessage>> => savedImageMessage({
  id, volumeUuid: '410b7fb4-973b-4b6d-82a7-e637a5103f4d', serverUrl: 'http://127.0.0.1:9204', marketplaceUrl: 'http://127.0.0.1:9204', validityDays: 2, draftXml, to: 'builder@example.org',
})!;

test('each message is one .eml file, readable by the server only; names sort in the order written, also for messages sent together', async () => {
  const outbox = join(dir, 'a', 'outbox');
  const mailer = new OutboxMailer(outbox, 'noreply@stratuslab.eu');
  const ids = Array.from({ length: 12 }, (_, i) => `IOeo3R5qEdCas5j_r1HxVne3J${String(i).padStart(2, '0')}`);
  for (const id of ids.slice(0, 4)) await mailer.send(noticeFor(id));
  // Sent together: every file still whole, every name distinct.
  await Promise.all(ids.slice(4).map((id) => mailer.send(noticeFor(id))));
  const names = readdirSync(outbox);
  assert.equal(names.length, 12, names.join(' '));
  assert.ok(names.every((n) => /^\d{4}-\d\d-\d\dT\d{6}\.\d{3}Z-\d{6}-[0-9a-f]{6}\.eml$/.test(n)), names.join(' '));
  const sorted = [...names].sort();
  const subjects = sorted.map((n) => parseMime(readFileSync(join(outbox, n), 'utf8')).headers.get('subject'));
  assert.deepEqual(subjects.slice(0, 4), ids.slice(0, 4).map((id) => `New image created ${id}`));
  assert.deepEqual(new Set(subjects), new Set(ids.map((id) => `New image created ${id}`)));
  for (const n of names) assert.equal(statSync(join(outbox, n)).mode & 0o777, 0o600);
});

let boxes = 0;
mailerConformance('outbox mailer', async () => {
  const outbox = join(dir, `conformance-${++boxes}`, 'outbox');
  const mailer = new OutboxMailer(outbox, 'noreply@stratuslab.eu');
  return { mailer, delivered: () => readdirSync(outbox).sort().map((n) => readFileSync(join(outbox, n), 'utf8')) };
});

test('nothing half-written: a temporary file a crash left is removed at start-up, a failed write leaves no file', async () => {
  const outbox = join(dir, 'b', 'outbox');
  mkdirSync(outbox, { recursive: true });
  writeFileSync(join(outbox, '.2026-12-06T074822.123Z-000001-abcdef.eml.0123456789ab.tmp'), 'From: half');
  const mailer = new OutboxMailer(outbox, 'noreply@stratuslab.eu');
  assert.deepEqual(readdirSync(outbox), []);
  // The outbox replaced by a file: the write fails, with the outbox named, and leaves nothing.
  rmSync(outbox, { recursive: true });
  writeFileSync(outbox, 'not a folder');
  let caught: unknown;
  await mailer.send(noticeFor('IOeo3R5qEdCas5j_r1HxVne3JMk')).catch((e: unknown) => { caught = e; });
  assert.ok(isStratusError(caught, 'MAIL_FAILED') && caught.message.startsWith(`cannot write a message to the outbox ${outbox}: `), String(caught));
  assert.deepEqual(readdirSync(join(dir, 'b')), ['outbox']);
  // An outbox that cannot be made is a configuration error at start-up, naming the folder.
  assert.throws(() => new OutboxMailer(join(outbox, 'outbox'), 'noreply@stratuslab.eu'),
    (e: unknown) => isStratusError(e, 'CONFIG_INVALID') && e.message === `cannot use ${join(outbox, 'outbox')} as the mail outbox: ENOTDIR`);
});

test('stratus serve says where mail goes: the outbox without [mail] host, the SMTP server with it', async () => {
  const plain = await startServerProcess(join(dir, 'serve-outbox'));
  assert.match(plain.log(), new RegExp(`^No SMTP server configured: mail goes to ${join(dir, 'serve-outbox', 'outbox')}$`, 'm'));
  await plain.stop();

  const smtp = await startSmtp({});
  const data = join(dir, 'serve-smtp');
  mkdirSync(data, { recursive: true });
  writeFileSync(join(data, 'stratus.cfg'), `[mail]\nhost = 127.0.0.1\nport = ${smtp.port}\nsecurity = none\nfrom = images@cloud.example.org\n`);
  const withSmtp = await startServerProcess(data);
  assert.match(withSmtp.log(), new RegExp(`^Mail goes to SMTP server 127\\.0\\.0\\.1:${smtp.port} \\(no TLS\\), from images@cloud\\.example\\.org$`, 'm'));
  assert.doesNotMatch(withSmtp.log(), /No SMTP server/);
  assert.equal(existsSync(join(data, 'outbox')), false);
  await withSmtp.stop();
});

test('stratus serve stops at start-up on a bad [mail] key, naming it', async () => {
  const data = join(dir, 'serve-bad');
  mkdirSync(data, { recursive: true });
  const cfg = join(data, 'stratus.cfg');
  for (const [text, message] of [
    ['[mail]\nhost = smtp.example.org\nsecurity = ssl\n', `${cfg}: [mail] security = ssl is not starttls, tls or none`],
    ['[mail]\nhostname = smtp.example.org\n', `${cfg}: [mail] hostname is not a known key`],
    ['[mail]\nhost = smtp.example.org\nport = 99999\n', `${cfg}: [mail] port = 99999 is not a port number 1-65535`],
  ] as const) {
    writeFileSync(cfg, text);
    const r = await runCli(['serve', '--data-dir', data, '--port', '0', '--network', 'none']);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.includes(message), r.stderr);
  }
});
