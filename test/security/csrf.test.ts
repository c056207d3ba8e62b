/**
 * Cross-site request forgery against a real `stratus serve`: a page on another site makes the
 * admin's browser POST a form to /users with the admin's cached Basic credentials (this created
 * an admin account, 201). Every state-changing request from another site is refused, whatever
 * it carries; StratusLab's clients and ours, which send no Origin, keep working; and every page
 * carries the headers that stop framing, sniffing and injected scripts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, basic, send, startConfiguredServer } from '../helpers/hostile-client.js';

const server = await startConfiguredServer();
const base = server.url;
const admin = basic(ADMIN);
const FORM = 'application/x-www-form-urlencoded';

async function usernames(): Promise<string[]> {
  const r = await send(base, 'GET', '/users', { headers: { authorization: admin, accept: 'application/json' } });
  assert.equal(r.status, 200, r.text);
  return (JSON.parse(r.text) as Array<{ username: string }>).map((u) => u.username);
}

function assertRefused(r: { status: number; headers: Record<string, unknown>; text: string }, why: RegExp): void {
  assert.equal(r.status, 403, r.text);
  assert.equal(r.headers['x-stratus-error'], 'CROSS_SITE_REFUSED');
  assert.match(r.text, why);
}

test('a cross-origin form POST to /users with the admin\'s Basic credentials is refused, and no account is made', async () => {
  const body = 'username=mallory&password=mallory-password-1&admin=true';
  const attack = await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': FORM, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' }, body });
  assertRefused(attack, /another web site/);
  // Older browsers send Origin without Sec-Fetch-Site; privacy modes may send only Sec-Fetch-Site.
  assertRefused(await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': FORM, origin: 'http://evil.example' }, body }), /Origin http:\/\/evil\.example is not this server's/);
  assertRefused(await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': FORM, 'sec-fetch-site': 'cross-site' }, body }), /Sec-Fetch-Site is cross-site/);
  assertRefused(await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': FORM, 'sec-fetch-site': 'same-site' }, body }), /Sec-Fetch-Site is same-site/);
  // A sandboxed frame or a file:// page sends Origin: null.
  assertRefused(await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': 'application/json', origin: 'null' }, body: JSON.stringify({ username: 'mallory', password: 'mallory-password-1' }) }), /Origin null/);
  // JSON from another site (a fetch with no-cors cannot send it, but a CORS one could try).
  assertRefused(await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': 'application/json', origin: 'http://evil.example' }, body: JSON.stringify({ username: 'mallory', password: 'mallory-password-1' }) }), /not this server's/);
  // Every state-changing method, not only POST.
  assertRefused(await send(base, 'DELETE', '/users/admin', { headers: { authorization: admin, origin: 'http://evil.example' } }), /DELETE \/users\/admin/);
  assertRefused(await send(base, 'PUT', '/users/admin/password', { headers: { authorization: admin, 'content-type': 'application/json', origin: 'http://evil.example' }, body: '{"password":"owned-by-mallory"}' }), /not this server's/);
  assert.deepEqual(await usernames(), ['admin']);
});

test('a form POST to /users from the server\'s own origin is refused too: /users takes JSON only', async () => {
  const r = await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': FORM, origin: base }, body: 'username=mallory&password=mallory-password-1' });
  assert.equal(r.status, 415, r.text);
  assert.equal(r.headers['x-stratus-error'], 'PAYLOAD_UNSUPPORTED');
  assert.match(r.text, /POST \/users takes application\/json, not application\/x-www-form-urlencoded/);
  const multipart = await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': 'multipart/form-data; boundary=x' }, body: '--x\r\nContent-Disposition: form-data; name="username"\r\n\r\nmallory\r\n--x--\r\n' });
  assert.equal(multipart.status, 415, multipart.text);
  const plain = await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': 'text/plain' }, body: '{"username":"mallory","password":"mallory-password-1"}' });
  assert.equal(plain.status, 415, plain.text);
  assert.deepEqual(await usernames(), ['admin']);
});

test('JSON from the same origin, and from clients that send no Origin (ours, StratusLab\'s), still works', async () => {
  const same = await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': 'application/json', origin: base, 'sec-fetch-site': 'same-origin' }, body: JSON.stringify({ username: 'alice', password: 'alice-password-1' }) });
  assert.equal(same.status, 201, same.text);
  const cli = await send(base, 'POST', '/users', { headers: { authorization: admin, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob', password: 'bob-password-1' }) });
  assert.equal(cli.status, 201, cli.text);
  // A request the user typed or bookmarked (Sec-Fetch-Site: none) is the user's own.
  const typed = await send(base, 'DELETE', '/users/bob', { headers: { authorization: admin, 'sec-fetch-site': 'none' } });
  assert.equal(typed.status, 200, typed.text);
  assert.deepEqual(await usernames(), ['admin', 'alice']);
});

test('pdisk keeps StratusLab\'s form POST (no Origin), and refuses the same form from another site', async () => {
  const alice = basic({ username: 'alice', password: 'alice-password-1' });
  const ok = await send(base, 'POST', '/pswd/disks/', { headers: { authorization: alice, 'content-type': FORM, accept: 'application/json' }, body: 'size=1&tag=form-made&visibility=private' });
  assert.equal(ok.status, 201, ok.text);
  const uuid = (JSON.parse(ok.text) as { uuid: string }).uuid;
  const mount = await send(base, 'POST', `/pswd/disks/${uuid}/mounts/`, { headers: { authorization: alice, 'content-type': FORM, accept: 'application/json' }, body: 'node=node-1&vm_id=42' });
  assert.equal(mount.status, 201, mount.text);
  assertRefused(await send(base, 'POST', '/pswd/disks/', { headers: { authorization: alice, 'content-type': FORM, origin: 'https://evil.example' }, body: 'size=1&tag=forged' }), /POST \/pswd\/disks\//);
  assertRefused(await send(base, 'DELETE', `/pswd/disks/${uuid}/mounts/${uuid}_42`, { headers: { authorization: alice, origin: 'https://evil.example' } }), /not this server's/);
  const list = await send(base, 'GET', '/pswd/disks/', { headers: { authorization: alice, accept: 'application/json' } });
  assert.deepEqual((JSON.parse(list.text) as Array<{ tag: string }>).map((v) => v.tag), ['form-made']);
});

test('the upload form works from the server\'s own pages, and a foreign page cannot post an entry', async () => {
  const boundary = '----stratus-test';
  const form = `--${boundary}\r\nContent-Disposition: form-data; name="Metadata File"; filename="e.xml"\r\nContent-Type: text/xml\r\n\r\n<notxml\r\n--${boundary}--\r\n`;
  const headers = { 'content-type': `multipart/form-data; boundary=${boundary}`, accept: 'text/html' };
  const own = await send(base, 'POST', '/metadata', { headers: { ...headers, origin: base, 'sec-fetch-site': 'same-origin' }, body: form });
  assert.equal(own.status, 400, 'the form reached the upload (and its content was judged)');
  assert.match(own.text, /invalid metadata|XML/i);
  assertRefused(await send(base, 'POST', '/metadata', { headers: { ...headers, origin: 'http://evil.example' }, body: form }), /POST \/metadata/);
});

test('every HTML page, error pages included, forbids framing, sniffing and any script; other answers run nothing either', async () => {
  for (const path of ['/', '/upload', '/metadata?media=html', '/no-such-page']) {
    const r = await send(base, 'GET', path, { headers: { accept: 'text/html' } });
    assert.match(String(r.headers['content-type']), /^text\/html/, path);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/, `${path}: ${csp}`);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.match(csp, /form-action 'self'/, path);
    assert.doesNotMatch(csp, /script-src|unsafe-inline|unsafe-eval/, path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(r.headers['x-frame-options'], 'DENY', path);
  }
  for (const [path, accept] of [['/metadata', 'application/json'], ['/endorsers', 'application/xml'], ['/users/me', 'application/json']] as const) {
    const r = await send(base, 'GET', path, { headers: { accept } });
    assert.match(String(r.headers['content-security-policy']), /^default-src 'none'.*sandbox/, path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
  }
});
