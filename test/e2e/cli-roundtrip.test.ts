import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';

const work = tempDir();
const image = randomBytes(3 * 1024 * 1024 + 17);
writeFileSync(join(work, 'disk.img'), image);
writeFileSync(join(work, 'disk.img.gz'), gzipSync(image));
const hex = (alg: string) => createHash(alg).update(image).digest('hex');
const id = identifierFromSha1(hex('sha1'));
const xmlFile = join(work, 'Debian-12-x86_64-base-1.0.xml');

test('the metadata workflow through the stratus-* commands, against a real server', async (t) => {
  const server = await startServerProcess(join(work, 'data'));
  // The endpoint comes from the user's config file, as in StratusLab; no URL is hard-coded.
  mkdirSync(join(work, '.stratuslab'));
  writeFileSync(join(work, '.stratuslab', 'stratuslab-user.cfg'), `[default]\nmarketplace_endpoint = ${server.url}\np12_certificate = ${join(work, 'joe.p12')}\n`);
  const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, { cwd: work, home: work, env });

  await t.test('generate-p12 writes a signing certificate', async () => {
    const r = await cli(['generate-p12', '-n', 'Joe Builder', '-e', 'builder@example.org', '-o', 'joe.p12', '-p', 'secret']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(work, 'joe.p12')));
  });

  await t.test('build-metadata hashes the decompressed content in one pass and names the file after the image', async () => {
    const r = await cli(['build-metadata', '--os', 'Debian', '--os-version', '12', '--os-arch', 'x86_64', '--image-version', '1.0',
      '--author', 'Joe Builder', '--title', 'My first image', '--comment', 'Apache web server on Debian', '--location', 'http://images.example.org/disk.img.gz',
      '--inbound-port', '22', '--inbound-port', '80', 'disk.img.gz']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '', 'nothing is printed on success, as StratusLab');
    const xml = readFileSync(xmlFile, 'utf8');
    assert.ok(xml.includes(`<dcterms:identifier>${id}</dcterms:identifier>`));
    assert.ok(xml.includes(`<slreq:bytes>${image.length}</slreq:bytes>`));
    for (const [alg, name] of [['md5', 'MD5'], ['sha1', 'SHA-1'], ['sha256', 'SHA-256'], ['sha512', 'SHA-512']]) {
      assert.ok(xml.includes(`<slreq:algorithm>${name}</slreq:algorithm>\n      <slreq:value>${hex(alg as string)}</slreq:value>`), name);
    }
    assert.ok(xml.includes('<dcterms:compression>gz</dcterms:compression>'));
    assert.ok(xml.includes('<slterms:inbound-port>80</slterms:inbound-port>'));
    const plain = await cli(['build-metadata', '--os', 'Debian', '-o', 'plain.xml', 'disk.img']);
    assert.match(plain.stderr, /\[WARNING\] Image physical location \(URL\) was not provided/);
    assert.ok(readFileSync(join(work, 'plain.xml'), 'utf8').includes(`<dcterms:identifier>${id}</dcterms:identifier>`), 'same identifier for the uncompressed file');
  });

  await t.test('validate-metadata reports the missing signature as its own finding', async () => {
    const r = await cli(['validate-metadata', xmlFile]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `Invalid: ${xmlFile}\nno signature\n`);
    const lax = await cli(['validate-metadata', '--allow-unsigned', xmlFile]);
    assert.equal(lax.code, 0, lax.stderr);
    assert.equal(lax.stdout, `Valid: ${xmlFile}\n`);
  });

  await t.test('upload of an unsigned entry fails the StratusLab way', async () => {
    const r = await cli(['upload-metadata', xmlFile]);
    assert.equal(r.code, 255);
    assert.match(r.stderr, /^Error: Failed to upload: 400 Bad Request: invalid metadata: no signature/);
  });

  await t.test('sign-metadata with a wrong password says so', async () => {
    const r = await cli(['sign-metadata', '--p12-password', 'wrong', xmlFile]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\[ERROR\] .*password/i);
  });

  await t.test('sign-metadata signs in place and keeps the original; the result validates', async () => {
    const r = await cli(['sign-metadata', xmlFile], { STRATUSLAB_P12_PASSWORD: 'secret' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(`${xmlFile}.orig`));
    const v = await cli(['validate-metadata', xmlFile]);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `Valid: ${xmlFile}\n`);
  });

  let entryUrl = '';
  await t.test('upload-metadata prints the entry URL', async () => {
    const r = await cli(['upload-metadata', xmlFile]);
    assert.equal(r.code, 0, r.stderr);
    entryUrl = r.stdout.trim();
    assert.match(entryUrl, new RegExp(`^${server.url}/metadata/${id}/builder@example.org/\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`));
  });

  await t.test('find it by os, by endorser and by free text', async () => {
    const list = await cli(['list-images']);
    assert.match(list.stdout, new RegExp(`Description: Apache web server on Debian\nID: ${id}\nOS: Debian 12 \\| Arch: x86_64\nCreator: Joe Builder\nCreated at: \\['\\d{4}-\\d\\d-\\d\\d', '\\d\\d:\\d\\d:\\d\\d'\\]\n####\n`));
    const byOs = await cli(['search-image', '--os', 'debian']);
    assert.match(byOs.stdout, /OS FOUND\n1 critera match your search for this image\n/);
    assert.match(byOs.stdout, new RegExp(`ID: ${id}`));
    assert.match(byOs.stdout, new RegExp(`SHA-1 ${hex('sha1')}`));
    const byEndorser = await cli(['search-image', '-e', 'builder@example.org', '--json']);
    assert.deepEqual((JSON.parse(byEndorser.stdout) as Array<{ identifier: string }>).map((e) => e.identifier), [id]);
    const byText = await cli(['search-image', '--text', 'apache']);
    assert.match(byText.stdout, new RegExp(`ID: ${id}`));
    const none = await cli(['search-image', '--text', 'nginx']);
    assert.doesNotMatch(none.stdout, /ID:/);
    const json = await cli(['list-images', '--json', '--os', 'Debian']);
    assert.equal((JSON.parse(json.stdout) as unknown[]).length, 1);
    const manifest = await cli(['manifest', '-e', 'sha1', id]);
    assert.equal(manifest.stdout, `${hex('sha1')}\n`);
    const loc = await cli(['manifest', '-e', 'location', entryUrl]);
    assert.equal(loc.stdout, 'http://images.example.org/disk.img.gz\n');
    const show = await cli(['show-image', '--json', id]);
    assert.equal((JSON.parse(show.stdout) as Array<{ signature: { valid: boolean } }>)[0]?.signature.valid, true);
  });

  await t.test('deprecate-metadata hides the image from the default listing; its full path still answers', async () => {
    // Right after the upload, in the same second (regression: 'already exists'): the new
    // endorsement is dated max(now, latest + 1 s).
    const r = await cli(['deprecate-metadata', '--email', 'builder@example.org', '--reason', 'superseded by 1.1', id], { STRATUSLAB_P12_PASSWORD: 'secret' });
    assert.equal(r.code, 0, r.stderr);
    const list = await cli(['list-images']);
    assert.doesNotMatch(list.stdout, new RegExp(id));
    const dep = await cli(['list-images', '--status', 'deprecated', '--json']);
    assert.deepEqual((JSON.parse(dep.stdout) as Array<{ deprecated: string }>).map((e) => e.deprecated), ['superseded by 1.1']);
    const old = await fetch(entryUrl, { headers: { accept: 'application/xml' } });
    assert.equal(old.status, 200);
    assert.match(await old.text(), /Apache web server on Debian/);
    // And again at once: each deprecation is a new, later entry.
    const again = await cli(['deprecate-metadata', '--email', 'builder@example.org', '--reason', 'superseded by 1.2', id], { STRATUSLAB_P12_PASSWORD: 'secret' });
    assert.equal(again.code, 0, again.stderr);
    const dates = [r.stdout, again.stdout].map((out) => out.trim().split('/').pop() as string);
    assert.ok((dates[1] as string) > (dates[0] as string), `${dates[1]} is later than ${dates[0]}`);
    const latest = await cli(['list-images', '--status', 'deprecated', '--json']);
    assert.deepEqual((JSON.parse(latest.stdout) as Array<{ deprecated: string }>).map((e) => e.deprecated), ['superseded by 1.2']);
  });

  await t.test('errors: missing file, bad identifier, unreachable Marketplace', async () => {
    const missing = await cli(['upload-metadata', 'nope.xml']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[ERROR\] Can't find metadata file: nope.xml/);
    const bad = await cli(['show-image', 'not-an-id']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid identifier: 'not-an-id'/);
    const down = await cli(['list-images', '--marketplace-endpoint', 'http://127.0.0.1:1']);
    assert.equal(down.code, 255);
    assert.match(down.stderr, /cannot reach the Marketplace at http:\/\/127.0.0.1:1/);
  });

  await t.test('every command answers --help', async () => {
    for (const c of ['build-metadata', 'sign-metadata', 'validate-metadata', 'upload-metadata', 'deprecate-metadata', 'list-images', 'search-image', 'show-image', 'manifest', 'generate-p12', 'serve']) {
      const r = await cli([c, '--help']);
      assert.equal(r.code, 0, c);
      assert.match(r.stdout, /Usage: /, c);
    }
  });
});
