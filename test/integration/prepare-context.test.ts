import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { tempDir } from '../helpers/tmp.js';
import { ok, runCli } from '../helpers/cli.js';

const home = tempDir();
mkdirSync(join(home, '.ssh'));
writeFileSync(join(home, '.ssh', 'id_rsa.pub'), 'ssh-rsa AAAAB3Nza jane@laptop\n');
const script = "#!/bin/bash -x\napt-get install -y apache2\ncat > /var/www/html/test.txt <<EOF\nSUCCESSFUL TEST\nEOF\n";
writeFileSync(join(home, 'run-http.sh'), script);

function decode(text: string): Record<string, string> {
  return Object.fromEntries(text.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

test('stratus-prepare-context writes cloud-init.txt as the guide shows it, for its ssh + x-shellscript example', async () => {
  // As the guide types it: the shell expands $HOME; here the command gets it literally too.
  ok(await runCli(['prepare-context', 'ssh,$HOME/.ssh/id_rsa.pub', 'x-shellscript,run-http.sh'], { cwd: home, home }));
  const text = readFileSync(join(home, 'cloud-init.txt'), 'utf8');
  assert.match(text, /^CONTEXT_METHOD=cloud-init\nCLOUD_INIT_AUTHORIZED_KEYS=c3NoLXJzYS[^\n]*\nCLOUD_INIT_USER_DATA=H4sI[^\n]*\n\n$/);
  const kv = decode(text);
  assert.equal(Buffer.from(kv.CLOUD_INIT_AUTHORIZED_KEYS as string, 'base64').toString(), 'ssh-rsa AAAAB3Nza jane@laptop\n');
  const userData = gunzipSync(Buffer.from(kv.CLOUD_INIT_USER_DATA as string, 'base64')).toString();
  assert.match(userData, /Content-Type: text\/x-shellscript; charset="us-ascii"\nMIME-Version: 1\.0\nContent-Transfer-Encoding: 7bit\nContent-Disposition: attachment; filename="run-http.sh"\n\n#!\/bin\/bash -x\n/);
});

test('stratus-prepare-context with none: the script itself is the user-data; no key unless given', async () => {
  ok(await runCli(['prepare-context', 'none,run-http.sh', '-o', 'literal.txt'], { cwd: home, home }));
  const kv = decode(readFileSync(join(home, 'literal.txt'), 'utf8'));
  assert.equal(kv.CLOUD_INIT_AUTHORIZED_KEYS, undefined);
  assert.equal(gunzipSync(Buffer.from(kv.CLOUD_INIT_USER_DATA as string, 'base64')).toString(), script);
});

test('stratus-prepare-context refuses bad input clearly and writes nothing', async () => {
  const dir = tempDir();
  const bad = await runCli(['prepare-context', 'x-shellscript'], { cwd: dir, home: dir });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid CloudInit mimetype pair: 'x-shellscript'/);
  const missing = await runCli(['prepare-context', 'ssh,nowhere.pub'], { cwd: dir, home: dir });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /context file nowhere\.pub: no such file/);
  writeFileSync(join(dir, 'big.bin'), randomBytes(40000));
  const big = await runCli(['prepare-context', 'none,big.bin'], { cwd: dir, home: dir });
  assert.notEqual(big.code, 0);
  assert.match(big.stderr, /multipart size \(\d+\) exceeds limit \(16384\)/);
  assert.ok(!existsSync(join(dir, 'cloud-init.txt')), 'nothing written');
  // Warnings do not stop it: a script without #! is written, and named.
  writeFileSync(join(dir, 'nohash.sh'), 'echo hi\n');
  const warned = ok(await runCli(['prepare-context', 'x-shellscript,nohash.sh'], { cwd: dir, home: dir }));
  assert.match(warned.stderr, /\[WARNING\] nohash\.sh: a shell script part must start with #!/);
  assert.ok(existsSync(join(dir, 'cloud-init.txt')));
  const help = ok(await runCli(['prepare-context', '--help'], { cwd: dir, home: dir }));
  assert.match(help.stdout, /Usage: stratus-prepare-context \[options\] <file-desc\.\.\.>/);
});
