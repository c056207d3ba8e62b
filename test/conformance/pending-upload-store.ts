import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/storage/database.js';
import { EntryStore } from '../../src/storage/entries.js';
import { PendingUploadStore } from '../../src/storage/pending-uploads.js';
import type { NewPendingUploadRow } from '../../src/storage/pending-uploads.js';
import { isStratusError } from '../../src/domain/errors.js';
import { row } from './entry-store.js';

const T0 = '2026-06-01T00:00:00.000Z';
const LATER = '2026-06-02T00:00:00.000Z';
const EXPIRES = '2026-06-01T12:00:00.000Z';

function pending(over: Partial<NewPendingUploadRow> & Pick<NewPendingUploadRow, 'token_hash' | 'identifier'>): NewPendingUploadRow {
  return {
    email: 'alice@example.org', created: '2026-01-02T00:00:00Z', subject: 'CN=Alice', title: 'title', deprecating: 0,
    uploader_id: null, client: '127.0.0.1', received: T0, expires: EXPIRES, xml: '<x/>', ...over,
  };
}

/**
 * The pending-upload store's conformance suite (uploads waiting for confirmation by e-mail):
 * every adapter runs it, so expiry, replacement and a link that works once behave the same on
 * SQLite and PostgreSQL, racing confirmations included.
 */
export function pendingUploadStoreConformance(adapter: string, open: () => Promise<Database>): void {
  test(`${adapter}: pending uploads are found until they expire, replaced per entry key, removed once, and purged when expired`, async () => {
    const db = await open();
    try {
      const store = new PendingUploadStore(db, new EntryStore(db));
      await store.hold(pending({ token_hash: 'h1', identifier: 'A' }));
      assert.equal((await store.find('h1', T0))?.identifier, 'A');
      assert.equal(await store.find('h1', EXPIRES), undefined, 'gone at its expiry time');
      assert.equal(await store.find('h2', T0), undefined);
      await store.hold(pending({ token_hash: 'h2', identifier: 'A' }));
      assert.equal(await store.find('h1', T0), undefined, 'a new upload of the same key replaces the links');
      assert.equal((await store.find('h2', T0))?.identifier, 'A');
      assert.equal(await store.remove('h2', EXPIRES), false, 'an expired one cannot be removed as if live');
      assert.equal(await store.remove('h2', T0), true);
      assert.equal(await store.remove('h2', T0), false);
      await store.hold(pending({ token_hash: 'h3', identifier: 'B' }));
      await store.hold(pending({ token_hash: 'h4', identifier: 'C', expires: LATER }));
      assert.equal(await store.count(T0), 2);
      assert.equal(await store.purgeExpired(EXPIRES), 1);
      assert.equal(await store.find('h4', EXPIRES) !== undefined, true, 'the one still valid stays');
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: a confirmation stores the entry and ends the pending upload in one transaction; racing ones store it once`, async () => {
    const db = await open();
    try {
      const entries = new EntryStore(db);
      const store = new PendingUploadStore(db, entries);
      await store.hold(pending({ token_hash: 'c1', identifier: 'A' }));
      const entry = row({ identifier: 'A', created: '2026-01-02T00:00:00Z' });
      const results = await Promise.all(Array.from({ length: 5 }, () => store.commit('c1', T0, entry)));
      assert.deepEqual(results.sort(), ['created', undefined, undefined, undefined, undefined]);
      assert.equal(await entries.count(), 1);
      assert.equal(await store.commit('c1', T0, entry), undefined, 'used');

      await store.hold(pending({ token_hash: 'c2', identifier: 'B' }));
      assert.equal(await store.commit('c2', EXPIRES, row({ identifier: 'B', created: '2026-01-02T00:00:00Z' })), undefined, 'expired');
      assert.equal(await entries.count(), 1);
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: an entry the store refuses at confirmation leaves the pending upload as it was; admissible() judges without storing`, async () => {
    const db = await open();
    try {
      const entries = new EntryStore(db);
      const store = new PendingUploadStore(db, entries);
      const newer = row({ identifier: 'A', created: '2026-01-03T00:00:00Z' });
      await entries.insert(newer);
      const older = row({ identifier: 'A', created: '2026-01-02T00:00:00Z' });
      await assert.rejects(entries.admissible(older), (e) => isStratusError(e, 'ENTRY_OLDER_THAN_LATEST'));
      assert.equal(await entries.admissible(newer), 'exists');
      assert.equal(await entries.admissible(row({ identifier: 'A', created: '2026-01-04T00:00:00Z' })), 'new');
      await store.hold(pending({ token_hash: 'o1', identifier: 'A' }));
      await assert.rejects(store.commit('o1', T0, older), (e) => isStratusError(e, 'ENTRY_OLDER_THAN_LATEST'));
      assert.ok(await store.find('o1', T0), 'still pending');
      assert.equal(await entries.count(), 1);
    } finally {
      await db.close();
    }
  });
}
