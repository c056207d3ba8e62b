import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { StratusError } from '../domain/errors.js';
import { buildContextCd, contextScript, mergeContext, oneContextVariables } from './one.js';
import type { ContextVariables } from './one.js';
import { tempDir } from '../../test/helpers/tmp.js';

const dir = tempDir();
const one = (variables: Record<string, string>, extra: object = {}): ContextVariables => oneContextVariables({ method: 'one', variables, ...extra });

test('§8.2 merge: file lines, then --context items split on #, then generated lines; empty lines skipped, a later name wins', () => {
  const vars = mergeContext({
    fileText: 'A=from-file\n\nB=x=y=z\nweb_port=80\r\n',
    items: ['A=from-item#C=c', '#D=d'],
    generated: ['CONTEXT_METHOD=cloud-init', 'C=generated'],
  });
  assert.deepEqual([...vars], [['A', 'from-item'], ['B', 'x=y=z'], ['WEB_PORT', '80'], ['C', 'generated'], ['D', 'd'], ['CONTEXT_METHOD', 'cloud-init']]);
  // Blanks around the name go (OpenNebula's template parser dropped them); the value keeps its own.
  assert.deepEqual([...mergeContext({ items: [' key = v '] })], [['KEY', ' v ']]);
  assert.deepEqual([...mergeContext({ fileText: '' })], []);
});

test('a line without = is the exact StratusLab error, with a hint', () => {
  for (const [src, line] of [[{ fileText: 'A=1\nno equals here\n' }, 'no equals here'], [{ items: ['A=1#oops'] }, 'oops'], [{ fileText: '  ' }, '  ']] as const) {
    assert.throws(() => mergeContext(src), (e: unknown) => {
      assert.ok(e instanceof StratusError);
      assert.equal(e.code, 'USAGE');
      assert.equal(e.message, `Error while parsing contextualization file.\nSyntax error in line \`${line}\``);
      assert.match(e.hint, /KEY=value/);
      return true;
    });
  }
});

test('names that are not shell names, or that bash keeps for itself, are refused before any VM starts', () => {
  for (const bad of ['=v', '1X=v', 'A-B=v', 'A B=v', 'X;reboot;Y=v', '$(id)=v', 'ÄB=v']) {
    assert.throws(() => mergeContext({ items: [bad] }), /is not a shell variable name/, bad);
  }
  for (const reserved of ['UID=0', 'euid=0', 'SHELLOPTS=x', 'BASH_ENV=/x', 'RANDOM=4', '_=x']) {
    assert.throws(() => mergeContext({ items: [reserved] }), /the shell keeps for itself/, reserved);
  }
  assert.throws(() => one({ A: 'x\0y' }), /NUL byte/);
  assert.throws(() => one({ 'bad name': 'v' }), /not a shell variable name/);
});

test('keys: PUBLIC_KEY from the key file, and every key line of SSH_KEY, SSH_PUBLIC_KEY and PUBLIC_KEY in SSH_PUBLIC_KEY', () => {
  const vars = one({ ssh_public_key: 'ssh-ed25519 BBBB b@x\n# a comment\n' }, { publicKey: 'ssh-ed25519 AAAA a@x\n' });
  assert.equal(vars.get('PUBLIC_KEY'), 'ssh-ed25519 AAAA a@x\n');
  assert.equal(vars.get('SSH_PUBLIC_KEY'), 'ssh-ed25519 BBBB b@x\nssh-ed25519 AAAA a@x');
  assert.equal(vars.has('SSH_KEY'), false);
  assert.equal([...vars.keys()][0], 'PUBLIC_KEY', 'first, as in StratusLab\'s template');
  // cloud-init reads SSH_KEY before SSH_PUBLIC_KEY: when given, it carries every key too.
  assert.equal(one({ SSH_KEY: 'ssh-rsa CCCC' }, { publicKey: 'ssh-ed25519 AAAA' }).get('SSH_KEY'), 'ssh-rsa CCCC\nssh-ed25519 AAAA');
  assert.equal(one({}).has('SSH_PUBLIC_KEY'), false);
});

test('hostname: SET_HOSTNAME unless the user named one; checked', () => {
  assert.equal(one({}, { hostname: 'vm-7' }).get('SET_HOSTNAME'), 'vm-7');
  assert.equal(one({ HOSTNAME: 'mine' }, { hostname: 'vm-7' }).has('SET_HOSTNAME'), false);
  assert.throws(() => one({}, { hostname: 'a;b' }), /invalid hostname/);
});

test('start script: START_SCRIPT_BASE64, else START_SCRIPT, else SCRIPT_EXEC becomes base64-gzip USER_DATA; USER_DATA given wins', () => {
  const userData = (v: ContextVariables): string => {
    assert.equal(v.get('USERDATA_ENCODING'), 'base64');
    return gunzipSync(Buffer.from(v.get('USER_DATA') as string, 'base64')).toString();
  };
  assert.equal(userData(one({ START_SCRIPT: '#!/bin/bash\necho hi\n' })), '#!/bin/bash\necho hi\n');
  assert.equal(userData(one({ START_SCRIPT: 'touch /x' })), '#!/bin/sh\ntouch /x', 'a one-liner gets a shell');
  assert.equal(userData(one({ SCRIPT_EXEC: 'touch /y' })), '#!/bin/sh\ntouch /y', 'StratusLab\'s SCRIPT_EXEC');
  const b64 = Buffer.from('#!/bin/sh\necho b64\n').toString('base64');
  assert.equal(userData(one({ START_SCRIPT: 'ignored', START_SCRIPT_BASE64: `${b64.slice(0, 8)}\n${b64.slice(8)}` })), '#!/bin/sh\necho b64\n');
  assert.throws(() => one({ START_SCRIPT_BASE64: 'not base64!' }), /START_SCRIPT_BASE64 is not valid base64/);
  const given = one({ USER_DATA: '#cloud-config\n', START_SCRIPT: 'touch /z' });
  assert.equal(given.get('USER_DATA'), '#cloud-config\n');
  assert.equal(given.has('USERDATA_ENCODING'), false);
  assert.equal(one({}).has('USER_DATA'), false);
});

test('size limits: user-data over 16 KiB gzipped, and a context.sh over 64 KiB, are refused', () => {
  const noise = (n: number): string => randomBytes(n).toString('base64');
  assert.throws(() => one({ START_SCRIPT: noise(20_000) }), (e: unknown) => e instanceof StratusError && e.code === 'CONTEXT_TOO_LARGE' && /the start script is \d+ bytes gzipped, over the limit of 16384/.test(e.message));
  assert.throws(() => one({ USER_DATA: Buffer.from(noise(20_000)).toString('base64'), USERDATA_ENCODING: 'base64' }), /USER_DATA is \d+ bytes gzipped/);
  assert.throws(() => contextScript(one({ BIG: 'x'.repeat(70_000) })), /the context is \d+ bytes, over the limit of 65536/);
});

test('the package proxy goes in STRATUS_APT_PROXY; anything but http://HOST:PORT is refused', () => {
  assert.equal(one({ STRATUS_APT_PROXY: 'http://evil:1' }, { aptProxy: 'http://10.1.2.1:3142' }).get('STRATUS_APT_PROXY'), 'http://10.1.2.1:3142');
  for (const bad of ['https://10.1.2.1:3142', 'http://a"b:1', 'http://x:1/\nAPT::X "y";', 'ftp://x']) {
    assert.throws(() => one({}, { aptProxy: bad }), (e: unknown) => e instanceof StratusError && e.code === 'CONFIG_INVALID', bad);
  }
});

/** Values an attacker would write: each must come back byte for byte and run nothing. */
const hostile: Record<string, string> = {
  DQ: 'say "hi" "$(touch PWNED_dq)"',
  SQ: "it's '$(touch PWNED_sq)' '\\''",
  DOLLAR: '$(touch PWNED_dollar) ${HOME} $HOME $((1+1))',
  BACKTICK: '`touch PWNED_backtick`',
  NEWLINE: 'line1\ntouch PWNED_newline\n\nKEY=injected\n',
  BACKSLASH: 'a\\\nb\\',
  SEMI: "'; touch PWNED_semi; echo '",
  TRAILING_NL: 'x\n\n',
  EMPTY: '',
  UNICODE: 'héllo → 世界',
};

// The ttylinux agent's own parser (context.awk under the guest's busybox awk) is attacked in
// test/vm/context-one-ttylinux.test.ts, where it runs.
test('attack: context.sh read by bash (as cloud-init does) and dash gives the exact values and runs nothing', () => {
  const vars = one(hostile);
  const script = contextScript(vars);
  const work = join(dir, 'attack');
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'context.sh'), script);
  for (const shell of ['bash', 'dash']) {
    for (const [name, value] of Object.entries(hostile)) {
      // printf with a sentinel keeps trailing newlines that $(...) would strip
      const out = execFileSync(shell, ['-e', '-c', `. ./context.sh; printf '%s|' "$${name}"`], { cwd: work, encoding: 'utf8' });
      assert.equal(out, `${value}|`, `${shell}: ${name}`);
    }
  }
  assert.deepEqual(readdirSync(work).filter((f) => f.startsWith('PWNED')), [], 'nothing ran');
});

test('the context CD: ISO 9660 labelled CONTEXT (what cloud-init\'s ds-identify and the ttylinux agent look for) holding context.sh', () => {
  const iso = join(dir, 'context.iso');
  writeFileSync(iso, buildContextCd({ method: 'one', variables: mergeContext({ items: ['WEB=1'] }), publicKey: 'ssh-ed25519 AAAA k', hostname: 'vm-1' }));
  const blkid = execFileSync('blkid', ['-o', 'export', iso]).toString();
  assert.match(blkid, /^LABEL=CONTEXT$/m);
  assert.match(blkid, /^TYPE=iso9660$/m);
  assert.deepEqual(execFileSync('isoinfo', ['-J', '-f', '-i', iso]).toString().trim().split('\n'), ['/context.sh']);
  assert.equal(execFileSync('isoinfo', ['-J', '-x', '/context.sh', '-i', iso]).toString(),
    "# Context variables generated by Stratus\nPUBLIC_KEY='ssh-ed25519 AAAA k'\nWEB='1'\nSSH_PUBLIC_KEY='ssh-ed25519 AAAA k'\nSET_HOSTNAME='vm-1'\n");
});
