import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStratusError } from '../domain/errors.js';
import { imageRefOf } from '../domain/image-ref.js';
import { parseUrlAllow, urlGuard } from './url-guard.js';

const url = new URL('http://example.org/image.img');

test('the URL guard refuses loopback, unspecified, link-local and multicast in every family and spelling, and the instance subnet; url_allow lets listed ones through', () => {
  const guard = urlGuard({ instanceSubnet: () => '10.213.7.0/24' });
  for (const a of ['127.0.0.1', '127.255.0.9', '0.0.0.0', '169.254.169.254', '224.0.0.1', '::1', '::', 'fe80::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254']) {
    assert.match(guard.refusal(a, url) ?? '', /an address of this server, link-local or multicast/, a);
  }
  assert.match(guard.refusal('10.213.7.50', url) ?? '', /on the instance network \(10\.213\.7\.0\/24\)/);
  assert.equal(guard.refusal('10.213.8.50', url), undefined);
  assert.equal(guard.refusal('93.184.216.34', url), undefined);
  const allowed = urlGuard({ allow: parseUrlAllow(['127.0.0.1', '10.213.7.0/25', 'fd00::/8'], 'test'), instanceSubnet: () => '10.213.7.0/24' });
  assert.equal(allowed.refusal('127.0.0.1', url), undefined);
  assert.equal(allowed.refusal('::ffff:127.0.0.1', url), undefined, 'the mapped form of an allowed address is that address');
  assert.match(allowed.refusal('127.0.0.2', url) ?? '', /refused/);
  assert.equal(allowed.refusal('10.213.7.5', url), undefined);
  assert.match(allowed.refusal('10.213.7.200', url) ?? '', /instance network/);
});

test('the image argument: Marketplace IDs, pdisk UUIDs and their URLs keep their forms; other http(s) URLs are plain images; other schemes are refused', () => {
  assert.equal(imageRefOf('http://mp.example.org/metadata/MMZu9WvwKIro-rtBQfDk4PsKO7_').kind, 'marketplace');
  assert.equal(imageRefOf('https://pdisk.example.org/pswd/disks/410b7fb4-973b-4b6d-82a7-e637a5103f4d').kind, 'pdisk');
  assert.deepEqual(imageRefOf(' HTTP://Images.Example.org/a b.img '), { kind: 'url', text: 'http://images.example.org/a%20b.img' });
  assert.throws(() => imageRefOf('file:///etc/shadow'), (e: unknown) => isStratusError(e, 'URL_REFUSED') && /only http and https URLs are fetched, not file:/.test(e.message));
  assert.throws(() => imageRefOf('an-image'), (e: unknown) => isStratusError(e, 'USAGE'));
});
