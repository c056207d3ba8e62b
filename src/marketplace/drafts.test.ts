import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultServiceNames, serviceIdentity } from './service-identity.js';
import { Marketplace } from './marketplace.js';
import { EntryStore } from '../storage/entries.js';
import { PendingUploadStore } from '../storage/pending-uploads.js';
import { openSqlite } from '../storage/database.js';
import { buildEntryXml } from '../metadata/entry/build.js';
import { generateSelfSignedP12 } from '../metadata/cert/generate.js';
import { loadP12 } from '../metadata/cert/credentials.js';
import { parseXml } from '../metadata/xml/parse.js';
import { serializeDocument } from '../metadata/xml/serialize.js';
import { signDocument } from '../metadata/dsig/sign.js';
import { identifierFromSha1 } from '../domain/identifier.js';
import { addDays, formatUtc } from '../domain/dates.js';
import { isStratusError } from '../domain/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'stratus-drafts-unit-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function unsignedEntry(): string {
  const sha1 = createHash('sha1').update(randomBytes(16)).digest('hex');
  const now = new Date();
  return buildEntryXml({
    identifier: identifierFromSha1(sha1), bytes: 1, checksums: { 'SHA-1': sha1 }, type: 'base', kind: 'machine', os: 'ttylinux', osVersion: '1',
    osArch: 'x86_64', version: '1.0', compression: '', locations: ['http://images.example.org/x.img'], format: 'raw', creator: 'Alice',
    created: formatUtc(now), valid: formatUtc(addDays(now, 2)), title: 'saved', alternative: '', description: 'a saved image', hypervisor: 'kvm', disksBus: 'virtio',
  });
}

function signedBy(commonName: string, email: string, xml: string): string {
  const file = join(dir, `${email}.p12`);
  writeFileSync(file, generateSelfSignedP12({ commonName, email, password: 'pw', validityDays: 2 }));
  const doc = parseXml(xml);
  signDocument(doc, { credentials: loadP12(file, 'pw') });
  return serializeDocument(doc);
}

test('the service identity is made once in <data-dir>/service (0600) and reused', () => {
  const first = serviceIdentity(dir, { commonName: 'stratus service test', email: 'svc@test.example' });
  assert.equal(statSync(join(dir, 'service', 'service.p12')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'service', 'p12-password')).mode & 0o777, 0o600);
  const again = serviceIdentity(dir, { commonName: 'other name', email: 'other@test.example' });
  assert.deepEqual(again.credentials.cert.der, first.credentials.cert.der, 'names given later do not remake it');
  assert.deepEqual(again.endorser, { email: 'svc@test.example', subject: first.credentials.cert.subject });
  assert.match(first.endorser.subject, /CN=stratus service test/);
});

test('the default names name this host, made safe for an e-mail address', () => {
  assert.deepEqual(defaultServiceNames('cloud-1.example.org'), { commonName: 'stratus service cloud-1.example.org', email: 'stratus-service@cloud-1.example.org' });
  assert.equal(defaultServiceNames('bad host!').email, 'stratus-service@bad-host-');
});

test('drafts: only the service signs them; only their owner (and the admin) sees them; the owner\'s public upload supersedes them', async () => {
  const database = await openSqlite(join(dir, 'drafts.sqlite'));
  const service = serviceIdentity(dir, { commonName: 'stratus service test', email: 'svc@test.example' });
  const mp = new Marketplace(new EntryStore(database), { service });
  const alice = { id: 'alice-id', username: 'alice' };
  try {
    const xml = unsignedEntry();
    await assert.rejects(mp.publishDraft(alice, signedBy('Alice', 'alice@example.org', xml)), (e) => isStratusError(e, 'TRUST_REJECTED'));
    await assert.rejects(mp.publishDraft({ id: '', username: 'ghost' }, service.sign(xml)), (e) => isStratusError(e, 'USAGE'));
    const draft = await mp.publishServiceDraft(alice, xml);
    assert.equal(draft.key.email, 'svc@test.example');
    await assert.rejects(mp.get(draft.key), (e) => isStratusError(e, 'ENTRY_NOT_FOUND'));
    await assert.rejects(mp.get(draft.key, { id: 'bob-id', admin: false }), (e) => isStratusError(e, 'ENTRY_NOT_FOUND'));
    assert.equal((await mp.get(draft.key, { id: 'admin-id', admin: true })).detail().status, 'valid');
    // Re-posting the service's own signed draft, or a look-alike certificate, is no public upload.
    await assert.rejects(mp.publish(service.sign(xml)), (e) => isStratusError(e, 'TRUST_REJECTED'));
    await assert.rejects(mp.publish(signedBy('stratus service test', 'other@example.org', xml)), (e) => isStratusError(e, 'TRUST_REJECTED'));
    await assert.rejects(mp.publish(signedBy('Someone', 'SVC@test.example', xml)), (e) => isStratusError(e, 'TRUST_REJECTED'));
    await mp.publish(signedBy('Alice', 'alice@example.org', xml), { id: 'alice-id' });
    assert.equal((await mp.get(draft.key, { id: 'alice-id', admin: false })).detail().status, 'superseded');
    assert.deepEqual((await mp.list({ status: 'all' })).entries.map((e) => e.email), ['alice@example.org']);
  } finally {
    await mp.close();
    await database.close();
  }
});

test('drafts pass a trust policy that does not list the service, and never wait for confirmation by e-mail', async () => {
  // Regression: the verifier refused every signer off the endorser list, the service too, so a
  // server with trust_endorsers could not store the Epilog's drafts at all.
  const database = await openSqlite(join(dir, 'drafts-trust.sqlite'));
  const service = serviceIdentity(dir, { commonName: 'stratus service test', email: 'svc@test.example' });
  const mailed: string[] = [];
  const entries = new EntryStore(database);
  const mp = new Marketplace(entries, {
    service,
    trust: { endorsers: ['CN=Someone Else,C=EU'] },
    pending: new PendingUploadStore(database, entries),
    confirmation: { holdMs: 3_600_000, notify: async (n) => { mailed.push(n.to); } },
  });
  try {
    const stored = await mp.publishServiceDraft({ id: 'alice-id', username: 'alice' }, unsignedEntry());
    assert.equal(stored.status, 'created');
    const held = await mp.publish(signedBy('Alice', 'alice@example.org', unsignedEntry()), undefined, { base: 'http://127.0.0.1:9204' });
    assert.equal(held.status, 'pending', 'an endorser off the list waits for confirmation');
    assert.deepEqual(mailed, ['alice@example.org'], 'only the endorser\'s upload was mailed about');
  } finally {
    await mp.close();
    await database.close();
  }
});
