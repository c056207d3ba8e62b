import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { REIDENTIFY, reidentifyCommand } from './reidentify.js';

const id = { hostname: 'one-7', sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG alice@example.org'], now: 1_800_000_000 };

test('reidentify: the arguments a restored guest gets, the host\'s entropy first on standard input, then root\'s keys', () => {
  const { args, input } = reidentifyCommand({ ...id, network: { mac: '52:54:00:0a:0b:0c', address: '10.213.77.9', gateway: '10.213.77.1' } }, Buffer.alloc(64, 0xab));
  assert.deepEqual(args.slice(2), ['reidentify', '1800000000', 'one-7', '52:54:00:0a:0b:0c', '10.213.77.9/24', '10.213.77.1']);
  assert.equal(args[1], REIDENTIFY);
  assert.equal(input, `${'ab'.repeat(64)}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG alice@example.org\n`);
  // user-mode: no address to change
  assert.deepEqual(reidentifyCommand(id).args.slice(5), ['', '', '']);
  // 64 fresh bytes by default, different each time
  assert.notEqual(reidentifyCommand(id).input, reidentifyCommand(id).input);
});

test('reidentify: values that would be shell or configuration of their own never reach the guest\'s root shell', () => {
  for (const bad of [
    { ...id, hostname: 'x; reboot' },
    { ...id, hostname: '-rf' },
    { ...id, now: -1 },
    { ...id, sshKeys: ['ssh-ed25519 AAAA\ncommand="reboot" ssh-ed25519 BBBB'] },
    { ...id, network: { mac: '52:54:00:0a:0b:0c\nDNS=6.6.6.6', address: '10.0.0.2', gateway: '10.0.0.1' } },
    { ...id, network: { mac: '52:54:00:0a:0b:0c', address: '10.0.0.2/8', gateway: '10.0.0.1' } },
    { ...id, network: { mac: '52:54:00:0a:0b:0c', address: '10.0.0.2', gateway: '10.0.0.1\n[Route]' } },
  ]) {
    assert.throws(() => reidentifyCommand(bad), Error, JSON.stringify(bad));
  }
});

test('reidentify: the guest script is valid POSIX sh (dash parses it)', () => {
  execFileSync('dash', ['-n', '-c', REIDENTIFY]);
});
