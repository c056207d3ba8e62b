import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildContext, parsePairs } from './cloud-init-pairs.js';
import { lintContext } from './lint.js';

function lint(files: Record<string, string | Buffer>, items: string[]): string[] {
  const read = (f: string): Buffer => Buffer.from(files[f] ?? assert.fail(`unexpected read of ${f}`));
  const pairs = parsePairs(items);
  return lintContext(pairs, read, buildContext(pairs, read).userData);
}

test('a clean context (the guide\'s) gives no warning', () => {
  assert.deepEqual(lint({ '/k.pub': 'ssh-rsa AAAAB3 jane@x\n', '/run-http.sh': '#!/bin/bash -x\napt-get install -y apache2\n' }, ['ssh,/k.pub', 'x-shellscript,/run-http.sh']), []);
});

test('each mistake that leaves a guest silently doing nothing is named, with its file', () => {
  const w = lint({
    '/key': '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----\n',
    '/noshebang.sh': 'apt-get install -y apache2\n',
    '/crlf.sh': '#!/bin/sh\r\necho hi\r\n',
    '/config.yaml': 'runcmd: [ls]\n',
    '/notes.txt': 'hello\n',
    '/wrong.pub': 'my key is in the other file\n',
  }, ['ssh,/key', 'ssh,/wrong.pub', 'x-shellscript,/noshebang.sh', 'x-shellscript,/crlf.sh', 'cloud-config,/config.yaml', 'x-unknown,/notes.txt']).join('\n');
  assert.match(w, /key: this is a private key; give its \.pub file/);
  assert.match(w, /wrong\.pub: 1 line\(s\) that are not SSH public keys/);
  assert.match(w, /noshebang\.sh: a shell script part must start with #!/);
  assert.match(w, /crlf\.sh: CRLF line ends/);
  assert.match(w, /config\.yaml: a cloud-config part must start with the line #cloud-config/);
  assert.match(w, /notes\.txt: unknown part type text\/x-unknown/);
});

test('none: dropped files are named, and a literal user-data needs a header cloud-init knows', () => {
  const w = lint({ '/a.sh': '#!/bin/sh\n', '/b.txt': 'just text\n', '/c.sh': '#!/bin/sh\n' }, ['none,/a.sh', 'x-shellscript,/c.sh', 'none,/b.txt']).join('\n');
  assert.match(w, /only the last none file is used \(b\.txt\); a\.sh dropped/);
  assert.match(w, /a none file is the whole user-data: x-shellscript,c\.sh dropped/);
  assert.match(w, /b\.txt: as literal user-data it needs a first line cloud-init knows/);
});

test('user-data close to the 16384-byte limit is flagged', () => {
  const w = lint({ '/big.sh': `#!/bin/sh\n: '${randomBytes(13500).toString('base64')}'\n` }, ['none,/big.sh']);
  assert.match(w.join('\n'), /user-data is \d+ bytes gzipped, close to the 16384-byte limit/);
});
