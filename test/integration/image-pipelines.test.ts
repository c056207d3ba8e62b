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
function recording(): PipelineEvents & { steps: string[] } {
  const steps: string[] = [];
  return { ...quietEvents, steps, action: (n) => steps.push(`[${n}]`), step: (n) => steps.push(n) };
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

test('publishImage as another account: a PUBLIC volume holding the image is used as it is, a private one is named', async () => {
  const admin = new PdiskClient(server.url, ADMIN);
  const alice = { username: 'alice', password: 'alice-pipelines-1' };
  await admin.addUser(alice);
  const asAlice = new PdiskClient(server.url, alice);

  // The image published in the first test is PUBLIC and the admin's.
  const shared = await publishImage({ source: planSource(join(dir, 'disk.img'), 'gz'), pdisk: asAlice, volume: { tag: 'mine' } }, recording());
  assert.deepEqual([shared.created, shared.volume.owner, shared.volume.tag], [false, 'admin', 'pipelines']);

  const secret = Buffer.concat([pseudoRandom(64 * 1024, 9), Buffer.alloc(64 * 1024)]);
  writeFileSync(join(dir, 'secret.img'), secret);
  await publishImage({ source: planSource(join(dir, 'secret.img'), 'gz'), pdisk: admin, volume: {} }, quietEvents);
  await assert.rejects(publishImage({ source: planSource(join(dir, 'secret.img'), 'gz'), pdisk: asAlice, volume: {} }, quietEvents),
    (e: Error) => /another account holds a private volume with this image \([\w-]{27}\)/.test(e.message));
  assert.equal((await asAlice.list()).filter((v) => v.owner === 'alice').length, 0, 'alice is left with no volume');
});
