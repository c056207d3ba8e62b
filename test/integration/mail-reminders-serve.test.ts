/**
 * `stratus serve` with `[marketplace] endorser_reminder = true` runs the reminders of §6.4
 * itself: a real server process, a real SMTP server on loopback, and entries uploaded over
 * HTTP. No clock is faked: an entry valid for one more day is within the 3-day warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addDays, formatUtc } from '../../src/domain/dates.js';
import { startSmtp, parseMime } from '../helpers/smtp.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { dataDirWithConfig, postEntry, storedEntries } from '../helpers/upload.js';
import { eventually } from '../helpers/confirmation.js';

const dir = tempDir('stratus-reminders-serve-');
const smtp = await startSmtp({});
const jane = makeSigner(dir, 'Jane Endorser', 'jane@example.org');
const PUBLIC = 'https://marketplace.example.org:9204';
const config = (reminders: string): string => `[server]\npublic_url = ${PUBLIC}\n[marketplace]\n${reminders}[mail]\nhost = 127.0.0.1\nport = ${smtp.port}\nsecurity = none\n`;

test('serve sends the daily expiry warning (with the Retrieve entry line) and the 30-day list, naming its public URL; a restart repeats neither', async () => {
  const dataDir = dataDirWithConfig(dir, 'data', config(''));
  const now = new Date();
  const soon = draft({ title: 'expires tomorrow', valid: formatUtc(addDays(now, 1)) });
  const later = draft({ title: 'valid for months', valid: formatUtc(addDays(now, 100)) });
  const first = await startServerProcess(dataDir);
  assert.doesNotMatch(first.log(), /Endorser reminders/, 'off by default');
  for (const d of [soon, later]) assert.equal((await postEntry(first.url, signedXml(jane, d))).status, 201);
  // The signer dates the endorsement: read it back.
  const created = (await storedEntries(first.url)).find((e) => e.identifier === soon.identifier)?.created ?? '';
  await first.stop();
  assert.equal(smtp.arrived.length, 0, 'nothing is sent while reminders are off');

  writeFileSync(join(dataDir, 'stratus.cfg'), config('endorser_reminder = true\n'));
  const second = await startServerProcess(dataDir);
  assert.match(second.log(), /Endorser reminders: on/);
  await eventually(() => smtp.arrived.length >= 2, 'the warning and the summary');
  const bySubject = new Map(smtp.arrived.map((a) => { const m = parseMime(a.raw); return [m.headers.get('subject'), { to: a.rcptTo, text: m.body.toString('utf8') }]; }));
  const warning = bySubject.get('Marketplace entry expiring soon (1)');
  assert.ok(warning, [...bySubject.keys()].join(', '));
  assert.deepEqual(warning.to, [jane.email]);
  const retrieve = `Retrieve entry: ${PUBLIC}/metadata/${soon.identifier}/${jane.email}/${created}?media=xml`;
  assert.ok(warning.text.includes(retrieve), warning.text);
  assert.ok(!warning.text.includes(later.identifier), 'only what expires within 3 days');
  const summary = bySubject.get('Your Marketplace entries (2 valid)');
  assert.ok(summary, [...bySubject.keys()].join(', '));
  for (const d of [soon, later]) assert.ok(summary.text.includes(`stratus-deprecate-metadata --email=${jane.email} ${d.identifier}`), summary.text);
  // The link works on the server (the public URL is this server behind its public name).
  assert.equal((await fetch(retrieve.replace('Retrieve entry: ', '').replace(PUBLIC, second.url))).status, 200);
  assert.ok(existsSync(join(dataDir, 'reminders.json')), 'rounds are recorded');
  await second.stop();

  const third = await startServerProcess(dataDir);
  await new Promise((r) => setTimeout(r, 1500));
  await third.stop();
  assert.equal(smtp.arrived.length, 2, 'a restart the same day sends nothing again');
});
