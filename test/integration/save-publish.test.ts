/**
 * §2.4 steps 6-8 with a Marketplace named by the user (--marketplace-endpoint-newimage): the
 * draft goes there signed by this server's identity, through the URL guard, and the creator's
 * mail names that Marketplace. The other Marketplace is a real `stratus serve`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { draft } from '../helpers/signing.js';
import { buildEntryXml } from '../../src/metadata/entry/build.js';
import { serviceIdentity } from '../../src/marketplace/service-identity.js';
import { OutboxMailer } from '../../src/mail/outbox.js';
import { savedImagePublisher } from '../../src/main/save-publish.js';
import { parseUrlAllow, urlGuard } from '../../src/cloud/url-guard.js';
import type { SavedImage } from '../../src/cloud/save-epilog.js';
import type { VolumeRow } from '../../src/storage/volumes/store.js';
import type { EntrySummary } from '../../src/domain/wire.js';

const dir = tempDir('stratus-save-publish-');
const other = await startServerProcess(join(dir, 'other'), ['--network', 'none']);
const service = serviceIdentity(join(dir, 'here'), { commonName: 'stratus service here', email: 'stratus-service@here.example.org' });
const outbox = new OutboxMailer(join(dir, 'outbox'), 'noreply@here.example.org');
const lines: string[] = [];
const entry = draft({ title: 'saved here' });
const saved = (marketplace: string): SavedImage => ({
  vmId: 7, owner: 'alice', ownerId: 'a1', volume: { uuid: '0b5c3f9e-0000-4000-8000-000000000001' } as VolumeRow, draft: entry, draftXml: buildEntryXml(entry),
  save: { author: 'Jane', authorEmail: 'jane@example.org', title: 'saved here', comment: 'c', imageVersion: '1.1', marketplace },
});
const publisher = (allow: string[]) => savedImagePublisher({
  marketplace: { publishServiceDraft: () => Promise.reject(new Error('not this Marketplace')) },
  service, mailer: outbox, ownUrl: () => 'http://here.example.org:9204', guard: urlGuard({ allow: parseUrlAllow(allow, 'test') }),
  validDays: 2, log: (l) => lines.push(l),
});

test('the draft is refused on loopback unless [instances] url_allow lists it; then the other Marketplace stores it, endorsed by this server', async () => {
  await assert.rejects(publisher([])(saved(other.url)), /URL_REFUSED|an address of this server/);
  const r = await publisher(['127.0.0.1'])(saved(`${other.url}/`));
  assert.equal(r.marketplace, other.url);
  const listed = await (await fetch(`${other.url}/metadata/${entry.identifier}?media=json`)).json() as { entries: EntrySummary[] };
  assert.deepEqual(listed.entries.map((e) => e.email), [service.endorser.email]);
  assert.match(lines.join('\n'), new RegExp(`the draft of ${entry.identifier} went to ${other.url} \\(HTTP 201\\)`));
  const mails = readdirSync(join(dir, 'outbox')).map((f) => readFileSync(join(dir, 'outbox', f), 'utf8'));
  assert.equal(mails.length, 1);
  assert.match(mails[0] ?? '', new RegExp(`Subject: New image created ${entry.identifier}`));
  assert.ok((mails[0] ?? '').includes(other.url), 'the mail names the Marketplace the draft went to');
});

test('a Marketplace that refuses the draft: the error quotes its answer', async () => {
  const twice = await publisher(['127.0.0.1'])(saved(other.url)).then(() => 'stored', (e: Error) => e.message);
  // The same draft again is the same entry (201 or 200 both mean "it is there").
  assert.equal(twice, 'stored');
  const wrong = buildEntryXml({ ...entry, identifier: 'A'.repeat(27) });
  await assert.rejects(publisher(['127.0.0.1'])({ ...saved(other.url), draftXml: wrong }), /refused the draft: HTTP 400: invalid metadata/);
});
