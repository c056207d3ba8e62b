import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { scpArgs, shellQuote, sshArgs, sshStopSharedArgs } from './ssh.js';

const OPTS = ['-i', '/k/id', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10'];

test('ssh: the key, no host-key checks or records, quiet, a connect timeout; then root@host and the command (connect-instance\'s line, unchanged)', () => {
  assert.deepEqual(sshArgs({ host: '192.0.2.10', key: '/k/id' }, ['uname', '-n']), [...OPTS, 'root@192.0.2.10', 'uname', '-n']);
  assert.deepEqual(sshArgs({ host: '192.0.2.10', key: '/k/id' }), [...OPTS, 'root@192.0.2.10']);
});

test('ssh: a forwarded port is -p, a forced terminal -tt, an unattended run BatchMode', () => {
  assert.deepEqual(sshArgs({ host: '127.100.0.2', key: '/k/id', port: 20022, batch: true, connectTimeoutS: 5 }, ['/tmp/s.sh'], { tty: true }), [
    '-i', '/k/id', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=5', '-o', 'BatchMode=yes',
    '-p', '20022', '-tt', 'root@127.100.0.2', '/tmp/s.sh',
  ]);
});

test('a shared connection: ssh and scp name the control socket and how long the master outlives its last command; -O exit ends it', () => {
  const t = { host: '192.0.2.10', key: '/k/id', shared: { socket: '/tmp/stratus-ssh-x/ssh', persistS: 60 } };
  const shared = ['-o', 'ControlMaster=auto', '-o', 'ControlPath=/tmp/stratus-ssh-x/ssh', '-o', 'ControlPersist=60'];
  assert.deepEqual(sshArgs(t, ['true']), [...OPTS, ...shared, 'root@192.0.2.10', 'true']);
  assert.deepEqual(scpArgs(t, '/a.sh', '/tmp/a.sh'), [...OPTS, ...shared, '/a.sh', 'root@192.0.2.10:/tmp/a.sh']);
  assert.deepEqual(sshStopSharedArgs(t), ['-o', 'ControlPath=/tmp/stratus-ssh-x/ssh', '-O', 'exit', 'root@192.0.2.10']);
});

test('scp: the same options, -P for the port; a local name with a colon stays local; an IPv6 host is bracketed', () => {
  assert.deepEqual(scpArgs({ host: '192.0.2.10', key: '/k/id', port: 2222 }, '/home/j/setup.sh', '/tmp/setup.sh'), [...OPTS, '-P', '2222', '/home/j/setup.sh', 'root@192.0.2.10:/tmp/setup.sh']);
  assert.deepEqual(scpArgs({ host: '192.0.2.10', key: '/k/id' }, 'a:b.sh', '/tmp/a:b.sh').slice(-2), ['./a:b.sh', 'root@192.0.2.10:/tmp/a:b.sh']);
  assert.equal(scpArgs({ host: 'fd00::5', key: '/k/id' }, './s', '/tmp/s').at(-1), 'root@[fd00::5]:/tmp/s');
});

test('shellQuote: what a POSIX shell reads back is the text itself, whatever it holds (run through sh)', () => {
  const nasty = ['plain', '', 'two words', "it's", 'a;touch /tmp/pwned', '$(id)', '`id`', 'back\\slash', 'new\nline', '"dq"', '*', '-n', "''", 'ü€'];
  for (const text of nasty) {
    const out = execFileSync('sh', ['-c', `printf '%s' ${shellQuote(text)}`], { encoding: 'utf8' });
    assert.equal(out, text, JSON.stringify(text));
  }
  assert.equal(shellQuote('/tmp/setup.sh'), '/tmp/setup.sh', 'a plain word stays as it is');
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
});
