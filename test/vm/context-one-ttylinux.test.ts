import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mergeContext } from '../../src/context/one.js';
import { waitForHttp } from '../../src/platform/probe.js';
import type { LaunchedInstance } from '../../src/compute/launch.js';
import { tempDir } from '../helpers/tmp.js';
import { bootGuest, recipeImage, ssh, sshKey } from '../helpers/vm.js';

const dir = tempDir();
const keyA = sshKey(dir, 'id_public_key');
const keyB = sshKey(dir, 'id_ssh_public_key');
const image = await recipeImage('ttylinux');

/** An authorized_keys line whose comment is shell code: it must land as text, never run. */
const hostileKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHN0cmF0dXMtb25lLWNvbnRleHQtYXR0YWNrLXRlc3Q '$(touch /tmp/PWNED_key)'`touch /tmp/PWNED_key2`";

/** Context values an attacker would write; each must arrive byte for byte and run nothing. */
const hostile: Record<string, string> = {
  DQ: 'say "hi" "$(touch /tmp/PWNED_dq)"',
  SQ: "it's '$(touch /tmp/PWNED_sq)' '\\''",
  DOLLAR: '$(touch /tmp/PWNED_dollar) ${HOME} $HOME $((6*7))',
  BACKTICK: '`touch /tmp/PWNED_backtick`',
  NEWLINE: 'line1\ntouch /tmp/PWNED_newline\n\nINJECTED=1\n',
  SEMI: "'; touch /tmp/PWNED_semi; echo '",
  BACKSLASH: 'a\\\nb\\',
};

// Booted at the top level, not in a before() hook: bootGuest's clean-up (node:test's after())
// must belong to the file, or it kills the guest as soon as the hook ends.
const { instance, sshMs } = await (async (): Promise<{ instance: LaunchedInstance; sshMs: number }> => {
  // As stratus-run-instance will pass them: --context items, then the server's own values.
  const variables = mergeContext({
    items: [`SSH_PUBLIC_KEY=${keyB.publicKey}#WEB_TEXT=Stratus one context`],
    generated: ['START_SCRIPT=mkdir -p /www; echo "$(cat /run/stratus/context/WEB_TEXT) on $(hostname)" > /www/index.html; busybox httpd -p 80 -h /www'],
  });
  variables.set('SSH_PUBLIC_KEY', `${variables.get('SSH_PUBLIC_KEY') as string}\n${hostileKey}`);
  for (const [k, v] of Object.entries(hostile)) variables.set(k, v);
  return bootGuest({
    name: 'tty-one', instancesDir: join(dir, 'instances'), base: { path: image.path, format: 'raw' }, vcpus: 1, memoryMiB: 256, tcgCacheMiB: 64,
    seed: { method: 'one', variables, publicKey: `${keyA.publicKey}\n`, hostname: 'tty-one' },
    inboundPorts: [80],
  }, 120_000);
})();

test('ttylinux with the one context CD: ssh works with the key of PUBLIC_KEY and with the key of SSH_PUBLIC_KEY; SET_HOSTNAME names it', () => {
  assert.ok(sshMs < 90_000, `SSH answered after ${sshMs} ms`);
  assert.equal(ssh(instance, keyA.path, 'hostname').trim(), 'tty-one');
  assert.equal(ssh(instance, keyB.path, 'hostname').trim(), 'tty-one');
  assert.match(ssh(instance, keyA.path, 'cat /var/log/stratus-context.log'), /seed: \/dev\/vd[a-z] \(one, iso9660\)/);
});

test('ttylinux with the one context CD: the start script serves a page (busybox httpd) that the host fetches', async () => {
  const body = await waitForHttp(`http://${instance.address}:${instance.ports.get(80)}/`, 60_000);
  assert.equal(body.trim(), 'Stratus one context on tty-one');
});

test('attack: quotes, $(...), backticks, newlines in context values run nothing in the guest and land literally', () => {
  // Wait for the agent's second half (the start script) so a late execution would show too.
  ssh(instance, keyA.path, 'i=0; while ! grep -q "running part-001" /var/log/stratus-context.log && [ $i -lt 60 ]; do sleep 1; i=$((i+1)); done');
  for (const [name, value] of Object.entries(hostile)) {
    const landed = Buffer.from(ssh(instance, keyA.path, `base64 /run/stratus/context/${name}`).replace(/\s+/g, ''), 'base64').toString('utf8');
    assert.equal(landed, value, name);
  }
  assert.equal(ssh(instance, keyA.path, '[ -e /run/stratus/context/INJECTED ] && echo made || echo none').trim(), 'none', 'a newline in a value made no variable');
  const keys = ssh(instance, keyA.path, 'cat /root/.ssh/authorized_keys').split('\n');
  assert.ok(keys.includes(hostileKey), 'the key with a shell comment is there, as text');
  assert.equal(ssh(instance, keyA.path, 'ls -d /tmp/PWNED* /PWNED* /root/PWNED* 2>/dev/null; true').trim(), '', 'nothing in the context ran');
});

test('the agent\'s parser (busybox awk, in the guest) reads OpenNebula 3\'s double-quoted context.sh too, and skips what is not an assignment', () => {
  const text = '# comment\nA="x \\"y\\" \\$z `w`"\nB="multi\nline"\nnot an assignment\nC=plain rest\nD=\'it\'\\\'\'s\'\nE="open\n';
  const out = ssh(instance, keyA.path, `rm -rf /tmp/p; mkdir /tmp/p; echo ${Buffer.from(text).toString('base64')} | base64 -d > /tmp/ctx.sh; `
    + 'awk -v dir=/tmp/p -f /usr/lib/stratus/context.awk /tmp/ctx.sh >/dev/null 2>&1; echo "exit=$?"; for f in /tmp/p/*; do printf "%s=%s\\n" "${f##*/}" "$(base64 < "$f" | tr -d "\\n")"; done');
  const lines = out.trim().split('\n');
  assert.equal(lines[0], 'exit=1', 'an unclosed quote is reported');
  const parsed = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf('=')), Buffer.from(l.slice(l.indexOf('=') + 1), 'base64').toString('utf8')]));
  assert.deepEqual(parsed, { A: 'x "y" $z `w`', B: 'multi\nline', C: 'plain', D: "it's" }, 'E, in an unclosed quote, is dropped');
});
