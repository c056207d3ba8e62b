import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStratusError } from '../../domain/errors.js';
import { readScripts, scriptCommand, splitScripts } from './scripts.js';

test('-s: comma-separated entries, each "path arg…" split on blanks', () => {
  assert.deepEqual(splitScripts(' setup.sh , conf.sh --port 80  8080,'), [
    { text: 'setup.sh', path: 'setup.sh', args: [] },
    { text: 'conf.sh --port 80  8080', path: 'conf.sh', args: ['--port', '80', '8080'] },
  ]);
  assert.deepEqual(splitScripts(undefined), []);
});

test('-s: each script is read before any VM; it goes to /tmp/<basename>', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scripts-'));
  try {
    writeFileSync(join(dir, 'setup.sh'), '#!/bin/sh\necho hi\n');
    const [s] = readScripts(`${join(dir, 'setup.sh')} a b`);
    assert.equal(s?.remotePath, '/tmp/setup.sh');
    assert.deepEqual(s?.args, ['a', 'b']);
    assert.equal(s?.bytes.toString(), '#!/bin/sh\necho hi\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('-s: a missing script, or a directory, is refused naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scripts-'));
  try {
    mkdirSync(join(dir, 'sub'));
    const missing = join(dir, 'nope.sh');
    assert.throws(() => readScripts(`${missing} x`), (e) => isStratusError(e, 'FILE_NOT_FOUND') && e.message === `script ${missing} (-s/--scripts): no such file`);
    assert.throws(() => readScripts(join(dir, 'sub')), (e) => isStratusError(e, 'FILE_NOT_FOUND') && e.message === `script ${join(dir, 'sub')} (-s/--scripts): not a regular file`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the remote command: the copied script and its arguments, each one word for the remote shell', () => {
  assert.equal(scriptCommand({ remotePath: '/tmp/setup.sh', args: ['80', '--name=web'] }), '/tmp/setup.sh 80 --name=web');
  assert.equal(scriptCommand({ remotePath: "/tmp/it's.sh", args: ['$(reboot)', 'a;b'] }), `'/tmp/it'\\''s.sh' '$(reboot)' 'a;b'`);
});
