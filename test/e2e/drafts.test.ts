/**
 * Issue 10, Done when: "The draft becomes public". A draft signed by the service for alice
 * (made here through the admin's route, as the Epilog makes it in-process) is alice's alone;
 * she extends its validity, signs it with her own P12 (stratus-generate-p12,
 * stratus-sign-metadata) and uploads it with stratus-upload-metadata: the entry is public and
 * valid, endorsed by her, and her draft is superseded. The service identity is made once in
 * the data dir and reused after a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { draft } from '../helpers/signing.js';
import { addAccount } from '../helpers/cloud.js';
import { buildEntryXml } from '../../src/metadata/entry/build.js';
import { addDays, formatUtc } from '../../src/domain/dates.js';
import type { EntrySummary } from '../../src/domain/wire.js';

const work = tempDir('stratus-e2e-drafts-');
const dataDir = join(work, 'data');
const ADMIN = { username: 'admin', password: 'admin-e2e-drafts' };
const ALICE = { username: 'alice', password: 'alice-e2e-drafts' };
const basic = (u: { username: string; password: string }): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}` });

test('a draft signed by the service becomes public once its owner re-signs it with a longer validity and uploads it', async (t) => {
  let server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
  await addAccount(server.url, ADMIN, ALICE.username, ALICE.password);
  const home = join(work, 'alice');
  mkdirSync(join(home, '.stratuslab'), { recursive: true });
  const cli = (args: string[]) => runCli(args, { cwd: home, home, env: { STRATUSLAB_MARKETPLACE_ENDPOINT: server.url, STRATUSLAB_USERNAME: ALICE.username, STRATUSLAB_PASSWORD: ALICE.password } });
  const anonymousCli = (args: string[]) => runCli(args, { cwd: home, home, env: { STRATUSLAB_MARKETPLACE_ENDPOINT: server.url } });
  const image = draft({ title: 'saved by alice', valid: formatUtc(addDays(new Date(), 2)) });
  const id = image.identifier;

  const p12 = join(dataDir, 'service', 'service.p12');
  let draftPath = '';
  await t.test('the service signs the draft; its identity is a P12 in the data dir, 0600', async () => {
    const res = await fetch(`${server.url}/metadata/drafts?owner=alice`, { method: 'POST', body: buildEntryXml(image), headers: { 'content-type': 'application/xml', accept: 'application/json', ...basic(ADMIN) } });
    assert.equal(res.status, 201, await res.clone().text());
    draftPath = ((await res.json()) as { path: string }).path;
    assert.equal(statSync(p12).mode & 0o777, 0o600);
    assert.equal(statSync(join(dataDir, 'service', 'p12-password')).mode & 0o777, 0o600);
  });

  await t.test('stratus-search-image shows the draft to alice, not to an anonymous user', async () => {
    const mine = await cli(['search-image', '--text', 'saved by alice']);
    assert.equal(mine.code, 0, mine.stderr);
    assert.match(mine.stdout, new RegExp(id));
    const theirs = await anonymousCli(['search-image', '--text', 'saved by alice']);
    assert.doesNotMatch(theirs.stdout, new RegExp(id));
  });

  await t.test('her password goes to her own server only: with another cloud endpoint configured, this Marketplace is searched anonymously', async () => {
    let sawPassword = false;
    let requests = 0;
    const spy = createServer((req, res) => {
      requests++;
      sawPassword ||= req.headers.authorization !== undefined;
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => spy.listen(0, '127.0.0.1', r));
    t.after(() => spy.close());
    const elsewhere = runCli(['search-image', '--text', 'saved by alice', '--marketplace-endpoint', `http://127.0.0.1:${(spy.address() as AddressInfo).port}`], {
      cwd: home, home, env: { STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: ALICE.username, STRATUSLAB_PASSWORD: ALICE.password },
    });
    await elsewhere;
    assert.ok(requests > 0, 'the foreign Marketplace was searched');
    assert.equal(sawPassword, false, 'a foreign Marketplace never gets the password');
    const other = await runCli(['search-image', '--text', 'saved by alice'], {
      cwd: home, home, env: { STRATUSLAB_MARKETPLACE_ENDPOINT: server.url, STRATUSLAB_ENDPOINT: 'http://127.0.0.1:9', STRATUSLAB_USERNAME: ALICE.username, STRATUSLAB_PASSWORD: ALICE.password },
    });
    assert.doesNotMatch(other.stdout, new RegExp(id), 'no credentials, so no draft');
  });

  await t.test('alice re-signs it with her own P12 and a longer validity, and uploads it: public and valid', async () => {
    const signed = await fetch(`${server.url}${draftPath}?media=xml`, { headers: basic(ALICE) });
    assert.equal(signed.status, 200);
    const valid = formatUtc(addDays(new Date(), 178));
    const file = join(home, 'manifest.xml');
    const text = (await signed.text()).replace(/<dcterms:valid>[^<]*<\/dcterms:valid>/, `<dcterms:valid>${valid}</dcterms:valid>`);
    writeFileSync(file, text);
    const gen = await cli(['generate-p12', '-n', 'Alice Owner', '-e', 'alice@example.org', '-o', 'alice.p12', '-p', 'secret']);
    assert.equal(gen.code, 0, gen.stderr);
    const sign = await cli(['sign-metadata', '--p12-cert', join(home, 'alice.p12'), '--p12-password', 'secret', file]);
    assert.equal(sign.code, 0, sign.stderr);
    const up = await cli(['upload-metadata', file]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`/metadata/${id}/alice@example.org/`));
    const pub = await fetch(`${server.url}/metadata/${id}?media=json`);
    const entries = ((await pub.json()) as { entries: EntrySummary[] }).entries;
    assert.deepEqual(entries.map((e) => [e.email, e.status, e.valid]), [['alice@example.org', 'valid', valid]]);
    const found = await anonymousCli(['search-image', '--text', 'saved by alice']);
    assert.match(found.stdout, new RegExp(id), 'anyone finds it now');
    const all = await fetch(`${server.url}/metadata/${id}?media=json&status=all`, { headers: basic(ALICE) });
    const mine = ((await all.json()) as { entries: EntrySummary[] }).entries;
    assert.deepEqual(mine.map((e) => e.email), ['alice@example.org'], 'her draft is superseded, so the latest-only listing leaves it out');
    const old = await fetch(`${server.url}${draftPath}?media=json`, { headers: basic(ALICE) });
    assert.equal(((await old.json()) as { status: string }).status, 'superseded', 'and it stays reachable by its key');
  });

  await t.test('after a restart the same service identity signs', async () => {
    const before = readFileSync(p12);
    await server.stop();
    server = await startServerProcess(dataDir, [], { STRATUS_ADMIN_PASSWORD: ADMIN.password });
    const again = await fetch(`${server.url}/metadata/drafts?owner=alice`, { method: 'POST', body: buildEntryXml(draft({ title: 'second' })), headers: { 'content-type': 'application/xml', accept: 'application/json', ...basic(ADMIN) } });
    assert.equal(again.status, 201, await again.clone().text());
    assert.equal(((await again.json()) as { path: string }).path.split('/')[3], draftPath.split('/')[3]);
    assert.deepEqual(readFileSync(p12), before, 'the P12 was not made again');
  });
});
