import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchImage, planSource, publishImage, quietEvents } from '../../src/images/index.js';
import type { PipelineEvents } from '../../src/images/index.js';
import { newDraft } from '../../src/metadata/entry/build.js';
import { parseXml } from '../../src/metadata/xml/parse.js';
import { MarketplaceClient } from '../../src/client/marketplace-client.js';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import { pseudoRandom } from '../conformance/volume-driver.js';
import { startServerProcess } from '../helpers/server.js';
import { makeSigner } from '../helpers/signing.js';
import { tempDir } from '../helpers/tmp.js';

// The two image pipelines called directly, as the compute image cache and the Epilog will.
const ADMIN = { username: 'admin', password: 'admin-pipelines-1' };
const dir = tempDir();
const server = await startServerProcess(join(dir, 'data'), [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });

/** Events that keep the steps, to check the order the pipeline took. */
function recording(): PipelineEvents & { steps: string[]; warnings: string[]; said: string[] } {
  const steps: string[] = [];
  const warnings: string[] = [];
  const said: string[] = [];
  return {
    ...quietEvents, steps, warnings, said, action: (n) => steps.push(`[${n}]`), step: (n) => steps.push(n),
    info: (m) => said.push(m), detail: (m) => said.push(m), warn: (m) => { warnings.push(m); said.push(m); },
  };
}

test('an image published through publishImage comes back byte for byte through fetchImage', async () => {
  const image = Buffer.concat([pseudoRandom(256 * 1024, 7), Buffer.alloc(512 * 1024), pseudoRandom(100_000, 8)]);
  const file = join(dir, 'disk.img');
  writeFileSync(file, image);
  const signer = makeSigner(dir);
  const pdisk = new PdiskClient(server.url, ADMIN);
  const marketplace = new MarketplaceClient(server.url);
  const events = recording();
  const request = {
    source: planSource(file, 'gz'), pdisk, volume: { visibility: 'PUBLIC', tag: 'pipelines' },
    publish: {
      entry: { draft: (content: Parameters<typeof newDraft>[0]) => newDraft(content, { os: 'Pipelines', title: 'published directly' }) },
      marketplace, signing: { credentials: signer.credentials },
    },
  };
  const published = await publishImage(request, events);
  assert.equal(published.published, true);
  assert.equal(published.created, true);
  assert.deepEqual(events.steps, ['[Starting image upload]', 'Compressing image', 'Uploading image',
    '[Starting manifest upload]', 'Parsing manifest', 'Updating manifest', 'Signing manifest', 'Uploading manifest']);
  assert.equal(published.volume.visibility, 'PUBLIC');

  const xml = await (await fetch(published.entry as string, { headers: { accept: 'application/xml' } })).text();
  assert.match(xml, new RegExp(`<slterms:location>pdisk:127\\.0\\.0\\.1:\\d+:${published.volume.uuid}</slterms:location>`));
  assert.match(xml, /<dcterms:compression>gz<\/dcterms:compression>/);

  const out = join(dir, 'out', 'copy.img');
  mkdirSync(join(dir, 'out'));
  const fetched = await fetchImage({
    docs: [parseXml(xml)], what: published.volume.identifier, output: out,
    pdiskEndpointFor: (endpoint) => endpoint, credentialsFor: async () => ADMIN,
  }, quietEvents);
  assert.equal(fetched.identifier, published.volume.identifier);
  assert.ok(readFileSync(out).equals(image));
  assert.deepEqual(readdirSync(join(dir, 'out')), ['copy.img'], 'no .part or temporary file is left');

  // Again, told not to publish what the endorser has listed: the volume is found, nothing is signed.
  const again = recording();
  const second = await publishImage({ ...request, identifier: published.volume.identifier, publish: { ...request.publish, unlessListedBy: signer.email } }, again);
  assert.deepEqual([second.published, second.created, second.volume.uuid, second.entry], [false, false, published.volume.uuid, published.entry]);
  assert.equal(again.steps.includes('Signing manifest'), false);
});

test('fetchImage refuses entries whose signature does not verify, before fetching anything', async () => {
  const unsigned = '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:dcterms="http://purl.org/dc/terms/" xml:base="http://mp.stratuslab.eu/">'
    + '<rdf:Description rdf:about="#x"><dcterms:identifier>x</dcterms:identifier></rdf:Description></rdf:RDF>';
  await assert.rejects(fetchImage({ docs: [parseXml(unsigned)], what: 'x', output: join(dir, 'never.img'), pdiskEndpointFor: (e) => e, credentialsFor: async () => ADMIN }, quietEvents),
    (e: Error) => /does not verify: no signature/.test(e.message));
  assert.equal(readdirSync(dir).includes('never.img'), false);
});

test("publishImage as another account: it stores its own volume, and another account's private volume is neither named nor used", async () => {
  const admin = new PdiskClient(server.url, ADMIN);
  const alice = { username: 'alice', password: 'alice-pipelines-1' };
  await admin.addUser(alice);
  const asAlice = new PdiskClient(server.url, alice);

  // The image published in the first test is PUBLIC and the admin's: duplicates are per account.
  const shared = await publishImage({ source: planSource(join(dir, 'disk.img'), 'gz'), pdisk: asAlice, volume: { tag: 'mine' } }, recording());
  assert.deepEqual([shared.created, shared.volume.owner, shared.volume.tag], [true, 'alice', 'mine']);
  // Published again, with her copy and the admin's PUBLIC one both listed: hers is the one used.
  const again = recording();
  const reused = await publishImage({ source: planSource(join(dir, 'disk.img'), 'gz'), pdisk: asAlice, volume: { tag: 'mine' } }, again);
  assert.deepEqual([reused.created, reused.volume.uuid], [false, shared.volume.uuid]);
  assert.ok(!again.warnings.some((w) => /belongs to/.test(w)), again.warnings.join('\n'));

  const secret = Buffer.concat([pseudoRandom(64 * 1024, 9), Buffer.alloc(64 * 1024)]);
  writeFileSync(join(dir, 'secret.img'), secret);
  const hidden = await publishImage({ source: planSource(join(dir, 'secret.img'), 'gz'), pdisk: admin, volume: {} }, quietEvents);
  const probe = recording();
  const hers = await publishImage({ source: planSource(join(dir, 'secret.img'), 'gz'), pdisk: asAlice, volume: {} }, probe);
  assert.deepEqual([hers.created, hers.volume.owner, hers.volume.identifier], [true, 'alice', hidden.volume.identifier]);
  assert.ok(!probe.said.some((m) => m.includes(hidden.volume.uuid) || m.includes('registered')), probe.said.join('\n'));
  for (const v of [shared, hers]) await asAlice.delete(v.volume.uuid);
});
