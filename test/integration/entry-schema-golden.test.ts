import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildEntryXml } from '../../src/metadata/entry/build.js';
import type { EntryDraft } from '../../src/metadata/entry/build.js';
import { readEntry } from '../../src/metadata/entry/entry.js';
import { parseXml } from '../../src/metadata/xml/parse.js';
import { openSqlite } from '../../src/storage/database.js';
import { EntryStore } from '../../src/storage/entries.js';
import { Marketplace } from '../../src/marketplace/marketplace.js';
import type { UploadVerifier } from '../../src/marketplace/verifier.js';
import { entryPage, searchPage } from '../../src/web/pages.js';
import { fixturePath } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

/*
 * What every entry layer wrote before the field table drove them (fixtures/entry-schema/ was
 * made by the code of d76edad): the refactor must not change a byte of the XML, nor a value
 * of the typed entry, the stored row, the JSON or the entry page. JSON key order and the order
 * of the entry page's field rows follow the table now, so those compare as sets.
 */
const golden = (name: string): string => readFileSync(fixturePath('entry-schema', name), 'utf8');

const full = {
  identifier: 'MMZu9WvwKIro-rtBQfDk4PsKO7_', bytes: 1048576,
  checksums: {
    'MD5': 'd41d8cd98f00b204e9800998ecf8427e', 'SHA-1': 'c319bbd5afc0a22ba3eaed0507c39383ec28eeff',
    'SHA-256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'SHA-512': 'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e',
  },
  type: 'base', kind: 'machine', os: 'Debian', osVersion: '12', osArch: 'x86_64', version: '1.0', compression: 'gz',
  locations: ['http://images.example.org/debian-12.img.gz', 'pdisk:127.0.0.1:9204:0b9d7d4e-9d1c-4c3e-8a1e-1b2c3d4e5f60'], format: 'raw',
  creator: 'Joe <Builder> & "Co"', created: '2026-01-01T00:00:00Z', valid: '2026-06-28T00:00:00Z', title: 'debian-12-base',
  alternative: "it's", description: 'Tabs\tand "quotes" & <angle> brackets\r\nsecond line é 😀', hypervisor: 'kvm', disksBus: 'virtio',
  inboundPorts: [22, 80, 443], publisher: 'Example Org', deprecated: 'superseded by 1.1',
} satisfies EntryDraft;
const minimal = {
  identifier: 'MMZu9WvwKIro-rtBQfDk4PsKO7_', bytes: 100, checksums: { 'SHA-1': 'c319bbd5afc0a22ba3eaed0507c39383ec28eeff' },
  type: 'base', kind: 'machine', os: '', osVersion: '', osArch: '', version: '', compression: '', locations: [], format: 'raw', creator: '',
  created: '2026-01-01T00:00:00Z', valid: '2026-06-28T00:00:00Z', title: '', alternative: '', description: '', hypervisor: 'kvm', disksBus: 'ide',
} satisfies EntryDraft;
const { inboundPorts: _p, publisher: _pub, deprecated: _d, ...noPorts } = full;
const drafts: Record<string, EntryDraft> = { 'build-full.xml': full, 'build-minimal.xml': minimal, 'build-no-ports.xml': { ...noPorts, inboundPorts: [] } };

for (const [name, d] of Object.entries(drafts)) {
  test(`build-metadata writes ${name} byte for byte as before`, () => {
    assert.equal(buildEntryXml(d), golden(name));
  });
}

/** Every StratusLab fixture, and the built drafts with an endorsement filled in. */
function documents(): Record<string, string> {
  const dir = fixturePath('stratuslab-metadata');
  const docs: Record<string, string> = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.xml')).sort()) docs[f] = readFileSync(join(dir, f), 'utf8');
  for (const name of Object.keys(drafts)) {
    docs[name] = golden(name).replace('<slreq:endorsement rdf:parseType="Resource"/>', '<slreq:endorsement rdf:parseType="Resource"><dcterms:created>2026-01-02T00:00:00Z</dcterms:created>'
      + '<slreq:endorser rdf:parseType="Resource"><slreq:email>joe@example.org</slreq:email><slreq:subject>CN=Joe</slreq:subject><slreq:issuer>CN=CA</slreq:issuer></slreq:endorser></slreq:endorsement>');
  }
  return docs;
}

test('the reader gives the same typed entry for every fixture', () => {
  const expected = JSON.parse(golden('read-entry.json')) as Record<string, unknown>;
  for (const [f, text] of Object.entries(documents())) {
    let got: unknown;
    try {
      got = JSON.parse(JSON.stringify(readEntry(parseXml(text, { source: f }))));
    } catch (e) {
      got = { error: (e as Error).message };
    }
    assert.deepEqual(got, expected[f], f);
  }
});

/** The rows of the entry page's field table, sorted, and the page with that table taken out. */
function splitPage(html: string): { rows: string[]; rest: string } {
  const m = /<table id="fields">([\s\S]*?)<\/table>/.exec(html);
  assert.ok(m, 'the entry page has a field table');
  return { rows: (m[1] ?? '').split('\n').sort(), rest: html.replace(m[0], '') };
}

/** The search column is internal: the same words, in any order. */
function sameRow(row: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, search, ...rest } = row;
  return { ...rest, search: String(search).split(' ').sort() };
}

test('the store, the JSON views and the pages hold the same values for every fixture', async () => {
  const expected = JSON.parse(golden('views.json')) as Record<string, { error?: string; detail: object; row: Record<string, unknown>; summary: object; dataTables: string[] }>;
  const pages = JSON.parse(golden('pages.json')) as Record<string, string>;
  const dir = tempDir();
  const clock = () => new Date('2026-03-01T00:00:00Z');
  // Stores without the upload checks, so that the invalid fixtures reach every layer too.
  const verifier: UploadVerifier = { verify: async (body) => ({ entry: readEntry(parseXml(body)), text: String(body), trust: { trusted: false } }), close: async () => undefined };
  const shared = await openSqlite(join(dir, 'shared.db'));
  const sharedMp = new Marketplace(new EntryStore(shared), { verifier, clock });
  try {
    for (const [f, text] of Object.entries(documents())) {
      const want = expected[f];
      assert.ok(want, f);
      const db = await openSqlite(join(dir, `${f}.db`));
      try {
        const store = new EntryStore(db);
        const mp = new Marketplace(store, { verifier, clock });
        let key;
        try {
          key = (await mp.publish(text)).key;
          await sharedMp.publish(text).catch(() => undefined);
        } catch (e) {
          assert.equal((e as Error).message, want.error, f);
          continue;
        }
        const detail = (await mp.get(key)).detail();
        assert.deepEqual(JSON.parse(JSON.stringify(detail)), want.detail, `${f}: detail`);
        const row = await store.get(key.identifier, key.email, key.created);
        assert.deepEqual(sameRow(row as unknown as Record<string, unknown>), sameRow(want.row), `${f}: row`);
        const list = await mp.list({ identifier: key.identifier, email: key.email, status: 'all' });
        assert.deepEqual(JSON.parse(JSON.stringify(list.entries[0])), want.summary, `${f}: summary`);
        assert.deepEqual(list.rows[0], want.dataTables, `${f}: DataTables row`);
        const page = splitPage(entryPage(detail));
        const before = splitPage(pages[f] ?? '');
        assert.deepEqual(page.rows, before.rows, `${f}: entry page fields`);
        assert.equal(page.rest, before.rest, `${f}: entry page`);
      } finally {
        await db.close();
      }
    }
    const listing = await sharedMp.list({ status: 'all' });
    const html = searchPage({ offset: 0, limit: 25, status: 'all' }, {
      sEcho: 0, iTotalRecords: listing.total, iTotalDisplayRecords: listing.total, rMsg: '', aaData: listing.rows, entries: listing.entries,
      offset: 0, limit: 25, total: listing.total, totalExact: true,
    });
    assert.equal(html, pages.search);
  } finally {
    await shared.close();
  }
});
