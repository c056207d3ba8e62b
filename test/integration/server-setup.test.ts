import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const dir = tempDir();

test('first start creates the admin with a generated password in an owner-only file, and says where', async () => {
  const data = join(dir, 'gen');
  const server = await startServerProcess(data, [], { STRATUS_ADMIN_PASSWORD: '' });
  const file = join(data, 'admin-password');
  assert.match(server.log(), new RegExp(`Created the admin account; its password is in ${file}`));
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const password = readFileSync(file, 'utf8').trim();
  assert.ok(password.length >= 20);
  const ok = await fetch(`${server.url}/users/me`, { headers: { authorization: 'Basic ' + Buffer.from(`admin:${password}`).toString('base64') } });
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { username: 'admin', admin: true });
  await server.stop();
  // A second start keeps the account and does not rewrite the file.
  const again = await startServerProcess(data, [], { STRATUS_ADMIN_PASSWORD: '' });
  assert.doesNotMatch(again.log(), /Created the admin account/);
  assert.equal(readFileSync(file, 'utf8').trim(), password);
});

test('wrong user and wrong password get the same 401, with a Basic challenge and no detail', async () => {
  const server = await startServerProcess(join(dir, 'env'), [], { STRATUS_ADMIN_PASSWORD: 'correct-horse-1' });
  const answers = [];
  for (const cred of ['admin:wrong-password', 'nobody:correct-horse-1', '']) {
    const res = await fetch(`${server.url}/pswd/disks/`, cred ? { headers: { authorization: 'Basic ' + Buffer.from(cred).toString('base64') } } : {});
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="Stratus"/);
    answers.push((await res.text()).split('\n')[0]);
  }
  assert.equal(answers[0], answers[1], 'unknown user and wrong password look the same');
  assert.equal(answers[0], 'invalid credentials');
  assert.equal(answers[2], 'authentication required');
});

test('TLS from config: tls_cert and tls_key make the server speak HTTPS', async () => {
  const data = join(dir, 'tls');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2'], { stdio: 'ignore' });
  execFileSync('mkdir', ['-p', data]);
  writeFileSync(join(data, 'stratus.cfg'), `[server]\ntls_cert = ${join(dir, 'cert.pem')}\ntls_key = ${join(dir, 'key.pem')}\n`);
  const server = await startServerProcess(data, [], { STRATUS_ADMIN_PASSWORD: 'correct-horse-1' });
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const body = await new Promise<string>((resolve, reject) => {
    request(`${server.url}/metadata?media=json`, { ca: readFileSync(join(dir, 'cert.pem')) }, (res) => {
      let s = '';
      res.on('data', (d: Buffer) => { s += d.toString(); });
      res.on('end', () => resolve(s));
    }).on('error', reject).end();
  });
  assert.equal((JSON.parse(body) as { total: number }).total, 0);
});
