import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Command } from 'commander';
import { sql } from 'kysely';
import { ENTRY_FIELDS } from '../../src/domain/entry-fields.js';
import type { EntryField } from '../../src/domain/entry-fields.js';
import type { EntryDetail, EntryListing } from '../../src/domain/wire.js';
import { buildEntryXml } from '../../src/metadata/entry/build.js';
import { readEntry } from '../../src/metadata/entry/entry.js';
import { parseXml } from '../../src/metadata/xml/parse.js';
import { openSqlite } from '../../src/storage/database.js';
import { addEntryFieldOptions } from '../../src/cli/entry-options.js';
import { buildTestApp } from '../helpers/app.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';

// Two fields the real schema does not have: one listed (it has a column), one read from the XML only.
const licence: EntryField = {
  name: 'licence', ns: 'dcterms', element: 'license', cardinality: 'one', type: 'text', column: 'licence', label: 'Licence', searchable: true,
  build: { option: '--licence <name>' },
};
const cores: EntryField = { name: 'cpuCores', ns: 'slterms', element: 'cpu-cores', cardinality: 'one', type: 'integer', range: [1, 1024], label: 'CPU cores', build: { option: '--cpu-cores <n>' } };
const fields = [...ENTRY_FIELDS, licence, cores];

test('a field added to the table is written and read as XML, stored in its column, served as JSON and shown on the entry page', async () => {
  const d = { ...draft(), licence: 'CC-BY-4.0', cpuCores: 4 };
  const xml = buildEntryXml(d, fields);
  assert.match(xml, /\n {4}<dcterms:license>CC-BY-4\.0<\/dcterms:license>\n {4}<slterms:cpu-cores>4<\/slterms:cpu-cores>\n {2}<\/rdf:Description>/);
  assert.doesNotMatch(buildEntryXml(d), /license|cpu-cores/, 'the real table knows neither');
  const read = readEntry(parseXml(xml), fields) as unknown as Record<string, unknown>;
  assert.deepEqual([read.licence, read.cpuCores], ['CC-BY-4.0', 4]);

  // A database made with the real table gains the new column when opened with the extended one.
  const file = join(tempDir(), 'stratus.db');
  await (await openSqlite(file)).close();
  const { app, database } = await buildTestApp({ database: file, entryFields: fields });
  const signed = signedXml(makeSigner(tempDir()), xml);
  const up = await app.inject({ method: 'POST', url: '/metadata', headers: { 'content-type': 'application/xml' }, payload: signed });
  assert.equal(up.statusCode, 201, up.body);
  const stored = await sql<{ licence: string }>`SELECT licence FROM entries WHERE identifier = ${d.identifier}`.execute(database.db);
  assert.equal(stored.rows[0]?.licence, 'CC-BY-4.0');

  const listing = (await app.inject({ method: 'GET', url: '/metadata?media=json&q=cc-by-4.0' })).json() as EntryListing;
  const summary = listing.entries[0] as unknown as Record<string, unknown>;
  assert.equal(listing.entries.length, 1, 'free text searches the new field');
  assert.equal(summary.licence, 'CC-BY-4.0');
  assert.equal('cpuCores' in summary, false, 'a field without a column is not in listings');
  const path = `/metadata/${d.identifier}/builder@example.org/${listing.entries[0]?.created ?? ''}`;
  const detail = (await app.inject({ method: 'GET', url: `${path}?media=json` })).json() as EntryDetail & Record<string, unknown>;
  assert.deepEqual([detail.licence, detail.cpuCores], ['CC-BY-4.0', 4]);
  const page = (await app.inject({ method: 'GET', url: `${path}?media=html` })).body;
  assert.match(page, /<tr><th>Licence<\/th><td>CC-BY-4\.0<\/td><\/tr>/);
  assert.match(page, /<tr><th>CPU cores<\/th><td>4<\/td><\/tr>/);

  // Opening again finds the column there already.
  await (await openSqlite(file, { entryFields: fields })).close();
});

test('a field added to the table becomes a build-metadata option, range-checked', () => {
  const program = new Command().exitOverride();
  const values = addEntryFieldOptions(program, fields);
  program.parse(['--licence', 'MIT', '--cpu-cores', '8', '--os', 'Debian'], { from: 'user' });
  const v = values(program.opts());
  assert.deepEqual([v.licence, v.cpuCores, v.os, v.type], ['MIT', 8, 'Debian', 'base']);
  assert.match(program.helpInformation(), /--licence <name> +dcterms:license/);
  const none = new Command().exitOverride();
  const noneValues = addEntryFieldOptions(none, fields);
  none.parse([], { from: 'user' });
  assert.equal('cpuCores' in noneValues(none.opts()), false, 'an integer option not given sets nothing');
  const bad = new Command().exitOverride();
  const badValues = addEntryFieldOptions(bad, fields);
  bad.parse(['--cpu-cores', '0'], { from: 'user' });
  assert.throws(() => badValues(bad.opts()), /--cpu-cores 0 must be 1-1024/);
});
