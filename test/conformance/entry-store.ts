import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Database } from '../../src/storage/database.js';
import { EntryStore } from '../../src/storage/entries.js';
import type { NewEntryRow } from '../../src/storage/entries.js';
import { isStratusError } from '../../src/domain/errors.js';

/** A row with sensible defaults, for store tests that do not care about the XML. */
export function row(over: Partial<NewEntryRow> & Pick<NewEntryRow, 'identifier' | 'created'>): NewEntryRow {
  return {
    email: 'alice@example.org', valid: '2099-01-01T00:00:00Z', deprecated: null, os: 'Debian', os_version: '12', os_arch: 'x86_64',
    kind: 'machine', type: 'base', title: 'title', description: 'description', alternative: null, creator: 'Alice', version: '1.0',
    format: 'raw', location: null, locations: '[]', location_kind: 'none', subject: 'CN=Alice', issuer: 'CN=Alice', bytes: 1,
    uploaded_at: '2026-01-01T00:00:00Z', search: 'debian title description', xml: `<x>${over.identifier}${over.created}</x>`,
    ...over,
  };
}

/**
 * The database port's conformance suite: every adapter (SQLite, PostgreSQL) runs it with
 * a fresh database, so the latest-entry rules and search behave the same on both.
 */
export function entryStoreConformance(adapter: string, open: () => Promise<Database>): void {
  const now = '2026-06-01T00:00:00Z';

  test(`${adapter}: insert moves the latest flag, refuses older entries, accepts an identical re-send`, async () => {
    const db = await open();
    try {
      const store = new EntryStore(db);
      assert.equal(await store.insert(row({ identifier: 'A', created: '2026-01-02T00:00:00Z' })), 'created');
      assert.equal(await store.insert(row({ identifier: 'A', created: '2026-01-03T00:00:00Z' })), 'created');
      await assert.rejects(store.insert(row({ identifier: 'A', created: '2026-01-01T00:00:00Z' })), (e) => isStratusError(e, 'ENTRY_OLDER_THAN_LATEST'));
      assert.equal(await store.insert(row({ identifier: 'A', created: '2026-01-03T00:00:00Z' })), 'exists');
      await assert.rejects(store.insert(row({ identifier: 'A', created: '2026-01-03T00:00:00Z', xml: '<changed/>' })), (e) => isStratusError(e, 'METADATA_INVALID'));
      assert.equal(await store.insert(row({ identifier: 'A', email: 'bob@example.org', created: '2026-01-01T00:00:00Z' })), 'created');
      const latest = await store.search({ identifier: 'A', status: 'all', now });
      assert.deepEqual(latest.rows.map((r) => [r.email, r.created]).sort(), [['alice@example.org', '2026-01-03T00:00:00Z'], ['bob@example.org', '2026-01-01T00:00:00Z']]);
      assert.equal(await store.count(), 3, 'nothing is ever deleted');
      assert.ok(await store.get('A', 'alice@example.org', '2026-01-02T00:00:00Z'), 'old entries stay reachable by key');
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: status, location, os, tag and free-text filters; paging and sorting`, async () => {
    const db = await open();
    try {
      const store = new EntryStore(db);
      await store.insert(row({ identifier: 'V', created: '2026-01-01T00:00:00Z', os: 'Debian', search: 'debian web server apache' }));
      await store.insert(row({ identifier: 'E', created: '2026-01-02T00:00:00Z', os: 'CentOS', valid: '2026-02-01T00:00:00Z', search: 'centos old' }));
      await store.insert(row({ identifier: 'D', created: '2026-01-03T00:00:00Z', deprecated: 'broken', search: 'deprecated thing' }));
      await store.insert(row({ identifier: 'P', created: '2026-01-04T00:00:00Z', location_kind: 'pdisk', alternative: 'tagged', search: 'private ubuntu ab' }));
      await store.insert(row({ identifier: 'N', created: '2026-01-05T00:00:00Z', valid: null, search: 'no validity' }));
      const ids = async (q: Parameters<EntryStore['search']>[0]) => (await store.search(q)).rows.map((r) => r.identifier);
      assert.deepEqual(await ids({ now }), ['P', 'V']);
      assert.deepEqual(await ids({ now, status: 'expired' }), ['E']);
      assert.deepEqual(await ids({ now, status: 'deprecated' }), ['D']);
      assert.deepEqual(await ids({ now, status: 'all' }), ['N', 'P', 'D', 'E', 'V']);
      assert.deepEqual(await ids({ now, location: 'pdisk' }), ['P']);
      assert.deepEqual(await ids({ now, os: 'DEBIAN' }), ['P', 'V']);
      assert.deepEqual(await ids({ now, status: 'all', os: 'centos' }), ['E']);
      assert.deepEqual(await ids({ now, tag: 'tagged' }), ['P']);
      assert.deepEqual(await ids({ now, text: 'apache' }), ['V']);
      assert.deepEqual(await ids({ now, text: 'Web APACHE' }), ['V']);
      assert.deepEqual(await ids({ now, text: 'ab' }), ['P'], 'terms shorter than a trigram still match');
      assert.deepEqual(await ids({ now, text: '100%' }), [], 'LIKE wildcards in terms are literal');
      assert.deepEqual(await ids({ now, status: 'all', sort: 'created', direction: 'asc', offset: 1, limit: 2 }), ['E', 'D']);
      assert.equal((await store.search({ now, status: 'all', limit: 2 })).total, 5);
      assert.equal((await store.latestByTag('alice@example.org', 'tagged'))?.identifier, 'P');
      assert.deepEqual(await store.tags('alice@example.org'), ['tagged']);
      assert.deepEqual((await store.endorsers()).map((e) => e.email), ['alice@example.org']);
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: a broad free-text search pages newest first and may report a lower-bound total`, async () => {
    const db = await open();
    try {
      const store = new EntryStore(db, { broadMatches: 3, countCap: 4 });
      for (let i = 0; i < 8; i++) {
        await store.insert(row({ identifier: `W${i}`, created: `2026-01-0${i + 1}T00:00:00Z`, search: `common word${i}` }));
      }
      const page = await store.search({ now, text: 'common', limit: 3 });
      assert.deepEqual(page.rows.map((r) => r.identifier), ['W7', 'W6', 'W5']);
      if (adapter === 'sqlite') assert.deepEqual([page.total, page.totalExact], [4, false]);
      else assert.deepEqual([page.total, page.totalExact], [8, true]);
      const narrow = await store.search({ now, text: 'common word3' });
      assert.deepEqual([narrow.rows.map((r) => r.identifier), narrow.total, narrow.totalExact], [['W3'], 1, true]);
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: concurrent uploads of one image keep exactly one latest entry`, async () => {
    const db = await open();
    try {
      const store = new EntryStore(db);
      const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) =>
        store.insert(row({ identifier: 'C', created: `2026-01-01T00:00:${String(i).padStart(2, '0')}Z` }))));
      assert.ok(results.some((r) => r.status === 'fulfilled'));
      const latest = await store.search({ identifier: 'C', status: 'all', now });
      assert.equal(latest.rows.length, 1);
    } finally {
      await db.close();
    }
  });

  test(`${adapter}: drafts are seen by their owner and the admin only, and keep their own latest chain`, async () => {
    const db = await open();
    try {
      const store = new EntryStore(db);
      const svc = 'stratus-service@host';
      await store.insert(row({ identifier: 'D', created: '2026-01-01T00:00:00Z' }));
      await store.insert(row({ identifier: 'D', email: svc, created: '2026-01-02T00:00:00Z', draft_owner: 'alice-id' }));
      // bob's draft of the same image, endorsed later: alice's stays her latest.
      await store.insert(row({ identifier: 'D', email: svc, created: '2026-01-03T00:00:00Z', draft_owner: 'bob-id' }));
      const seen = async (viewer?: { id: string; admin: boolean }) =>
        (await store.search({ identifier: 'D', status: 'all', now, viewer })).rows.map((r) => `${r.email} ${r.draft_owner ?? 'public'}`).sort();
      assert.deepEqual(await seen(), ['alice@example.org public'], 'anonymous sees no draft');
      assert.deepEqual(await seen({ id: 'alice-id', admin: false }), ['alice@example.org public', `${svc} alice-id`]);
      assert.deepEqual(await seen({ id: 'bob-id', admin: false }), ['alice@example.org public', `${svc} bob-id`]);
      assert.deepEqual(await seen({ id: 'admin-id', admin: true }), ['alice@example.org public', `${svc} alice-id`, `${svc} bob-id`]);
      assert.equal(await store.get('D', svc, '2026-01-02T00:00:00Z'), undefined, 'a draft is not found by key anonymously');
      assert.equal(await store.get('D', svc, '2026-01-02T00:00:00Z', { id: 'bob-id', admin: false }), undefined, 'nor by another account');
      assert.ok(await store.get('D', svc, '2026-01-02T00:00:00Z', { id: 'alice-id', admin: false }));
      assert.deepEqual((await store.endorsers()).map((e) => e.email), ['alice@example.org'], 'the service endorses nothing public');
      // A public upload by alice ends her drafts of the image (kept, superseded), not bob's.
      await store.insert(row({ identifier: 'D', created: '2026-01-04T00:00:00Z' }), { retireDraftsOf: 'alice-id' });
      const latest = (await store.search({ identifier: 'D', status: 'all', now, viewer: { id: 'admin-id', admin: true } })).rows;
      assert.deepEqual(latest.map((r) => `${r.created} ${r.draft_owner ?? 'public'}`).sort(), ['2026-01-03T00:00:00Z bob-id', '2026-01-04T00:00:00Z public']);
      assert.equal((await store.get('D', svc, '2026-01-02T00:00:00Z', { id: 'alice-id', admin: false }))?.is_latest, 0);
      assert.equal(await store.count(), 4, 'nothing is deleted');
    } finally {
      await db.close();
    }
  });
}
