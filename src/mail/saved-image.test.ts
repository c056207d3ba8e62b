import { test } from 'node:test';
import assert from 'node:assert/strict';
import { savedImageMessage } from './saved-image.js';

const saved = {
  id: 'IOeo3R5qEdCas5j_r1HxVne3JMk',
  volumeUuid: '410b7fb4-973b-4b6d-82a7-e637a5103f4d',
  serverUrl: 'https://cloud.example.org:9204/',
  marketplaceUrl: 'https://marketplace.example.org',
  validityDays: 2,
  draftXml: '<?xml version="1.0"?><rdf:RDF/>',
  to: 'builder@example.org',
};

test('the saved-image notice of §2.4 step 8: subject, this server\'s URLs, validity, the unsigned draft attached', () => {
  const m = savedImageMessage(saved);
  assert.ok(m);
  assert.equal(m.to, 'builder@example.org');
  assert.equal(m.subject, 'New image created IOeo3R5qEdCas5j_r1HxVne3JMk');
  assert.match(m.text, /^Image creation was SUCCESSFUL\.$/m);
  assert.match(m.text, /identifier IOeo3R5qEdCas5j_r1HxVne3JMk\./);
  assert.match(m.text, /^ {2}https:\/\/cloud\.example\.org:9204\/pswd\/disks\/410b7fb4-973b-4b6d-82a7-e637a5103f4d$/m);
  assert.match(m.text, /^ {2}https:\/\/cloud\.example\.org:9204\/cert\/disks\/410b7fb4-973b-4b6d-82a7-e637a5103f4d$/m);
  assert.match(m.text, /uploaded to the Marketplace https:\/\/marketplace\.example\.org$/m);
  assert.match(m.text, /valid for only 2 days/);
  assert.match(m.text, /stratus-sign-metadata --p12-cert .* manifest-not-signed\.xml/);
  assert.match(m.text, /stratus-upload-metadata --marketplace-endpoint https:\/\/marketplace\.example\.org manifest-not-signed\.xml/);
  assert.deepEqual(m.attachments, [{ filename: 'manifest-not-signed.xml', content: saved.draftXml, contentType: 'application/xml' }]);
  assert.match(savedImageMessage({ ...saved, validityDays: 1 })?.text ?? '', /valid for only 1 day,/);
});

test('no creator e-mail, no message (StratusLab skipped the mail)', () => {
  assert.equal(savedImageMessage({ ...saved, to: '' }), undefined);
  assert.equal(savedImageMessage({ ...saved, to: '   ' }), undefined);
});
