import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { buildContext, contextFileText, encodeUserData, expandPath, parsePairs } from './cloud-init-pairs.js';

const files: Record<string, string> = {
  '/k/a.pub': 'ssh-ed25519 AAAAa alice@x\n',
  '/k/b.pub': '---- BEGIN SSH2 PUBLIC KEY ----\nComment: "bob"\n  ssh-rsa AAAAb bob@y  \n',
  '/s/run-http.sh': '#!/bin/sh\necho SUCCESSFUL TEST > /srv/test.txt\n',
  '/s/first.sh': '#!/bin/sh\necho first\n',
  '/s/last.sh': '#!/bin/sh\necho last\n',
  '/s/config.yaml': '#cloud-config\nruncmd: [ [touch, /ok] ]\n',
};
const read = (f: string): Buffer => Buffer.from(files[f] ?? assert.fail(`unexpected read of ${f}`));

test('pairs: trimmed, empty items ignored, # separates, exactly one comma each', () => {
  assert.deepEqual(parsePairs([' ssh,/k/a.pub # x-shellscript,/s/run-http.sh#', '']), [
    { mimetype: 'ssh', file: '/k/a.pub' }, { mimetype: 'x-shellscript', file: '/s/run-http.sh' },
  ]);
  for (const bad of ['ssh', 'ssh,/a,/b', ',/a', 'ssh,']) assert.throws(() => parsePairs([bad]), { message: `invalid CloudInit mimetype pair: '${bad}'` });
});

test('paths: $VAR, ${VAR} and ~ are expanded (the guide single-quotes $HOME); an unset variable is an error', () => {
  assert.equal(expandPath('$HOME/.ssh/id_rsa.pub', { HOME: '/home/jane' }), '/home/jane/.ssh/id_rsa.pub');
  assert.equal(expandPath('${D}/x-$E.sh', { D: '/d', E: 'e' }), '/d/x-e.sh');
  assert.throws(() => expandPath('$NOPE/key', {}), /the variable \$NOPE is not set/);
});

test('ssh files: lines trimmed, Comment: lines dropped, one newline added per file; no key unless given', () => {
  const ctx = buildContext(parsePairs(['ssh,/k/a.pub', 'ssh,/k/b.pub']), read);
  assert.equal(ctx.authorizedKeys, 'ssh-ed25519 AAAAa alice@x\n---- BEGIN SSH2 PUBLIC KEY ----\nssh-rsa AAAAb bob@y\n');
  assert.equal(buildContext(parsePairs(['x-shellscript,/s/run-http.sh']), read).authorizedKeys, '');
});

test('user-data: one text/<type> part per file in order, named by basename, laid out as Python\'s email made it', () => {
  const ud = buildContext(parsePairs(['x-shellscript,/s/run-http.sh', 'cloud-config,/s/config.yaml']), read).userData.toString();
  const boundary = /^Content-Type: multipart\/mixed; boundary="(===============\d{19}==)"\nMIME-Version: 1\.0\n\n/.exec(ud)?.[1];
  assert.ok(boundary, ud);
  assert.ok(ud.includes(`--${boundary}\nContent-Type: text/x-shellscript; charset="us-ascii"\nMIME-Version: 1.0\nContent-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename="run-http.sh"\n\n#!/bin/sh\necho SUCCESSFUL TEST > /srv/test.txt\n\n--${boundary}\nContent-Type: text/cloud-config;`), ud);
  assert.ok(ud.endsWith(`runcmd: [ [touch, /ok] ]\n\n--${boundary}--\n`), ud);
});

test('none: the last none file, literally, is the whole user-data (the guide; StratusLab\'s code took the first)', () => {
  const ctx = buildContext(parsePairs(['none,/s/first.sh', 'x-shellscript,/s/run-http.sh', 'ssh,/k/a.pub', 'none,/s/last.sh']), read);
  assert.equal(ctx.userData.toString(), files['/s/last.sh']);
  assert.equal(ctx.authorizedKeys, files['/k/a.pub']);
});

test('cloud-init.txt: CONTEXT_METHOD, base64 keys, base64 gzip user-data (H4sI…), a line only with content, one extra newline', () => {
  const ctx = buildContext(parsePairs(['ssh,/k/a.pub', 'none,/s/run-http.sh']), read);
  const text = contextFileText(ctx);
  const lines = text.split('\n');
  assert.equal(lines[0], 'CONTEXT_METHOD=cloud-init');
  assert.equal(Buffer.from((lines[1] as string).replace('CLOUD_INIT_AUTHORIZED_KEYS=', ''), 'base64').toString(), files['/k/a.pub']);
  assert.match(lines[2] as string, /^CLOUD_INIT_USER_DATA=H4sI[A-Za-z0-9+/]+=*$/);
  assert.equal(gunzipSync(Buffer.from((lines[2] as string).slice('CLOUD_INIT_USER_DATA='.length), 'base64')).toString(), files['/s/run-http.sh']);
  assert.ok(text.endsWith('\n\n'));
  assert.equal(contextFileText(buildContext([], read)), 'CONTEXT_METHOD=cloud-init\n\n');
});

test('user-data over 16384 bytes gzipped is refused with StratusLab\'s message', () => {
  const noise = randomBytes(40000);
  assert.throws(() => encodeUserData(noise), /^StratusError: multipart size \(\d+\) exceeds limit \(16384\)$/m);
});
