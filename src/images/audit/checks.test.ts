import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditFs, effectiveSshd, worstSeverity } from './checks.js';
import { memory } from './memory-view.js';

test('sshd: the first value wins, drop-ins are read where Include stands, a Match block ends the global settings', () => {
  const main = '# comment\nInclude /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\nPermitRootLogin yes\nMatch User x\nPasswordAuthentication no\n';
  assert.deepEqual([...effectiveSshd([main], ['PasswordAuthentication no\n'])], [['passwordauthentication', 'no'], ['permitrootlogin', 'yes']]);
  assert.deepEqual([...effectiveSshd([main], [])], [['passwordauthentication', 'yes'], ['permitrootlogin', 'yes']]);
  assert.deepEqual([...effectiveSshd(['PasswordAuthentication=no\n'], [])], [['passwordauthentication', 'no']]);
});

test('an image with nothing of the checklist: no agent, no DHCP, no SSH server, no firewall', async () => {
  const findings = await auditFs(memory({ '/etc/hostname': 'x\n' }));
  assert.deepEqual(findings.map((f) => `${f.severity} ${f.check}`), ['error context', 'warning dhcp', 'warning ssh', 'warning firewall']);
  assert.equal(worstSeverity(findings), 'error');
});

test('secrets under /home are found, and a locked or empty shadow entry is told apart', async () => {
  const findings = await auditFs(memory({
    '/usr/bin/cloud-init': '#!', '/usr/sbin/sshd': '', '/etc/ssh/sshd_config': 'PasswordAuthentication no\n',
    '/home/jane/.ssh/authorized_keys': 'ssh-ed25519 AAAA jane', '/home/jane/work/deploy.pem': '-----BEGIN PRIVATE KEY-----\n',
    '/home/jane/.zsh_history': 'ls\n', '/etc/shadow': 'root:*:1::::::\njane:!$6$x:1::::::\nbob::1::::::\n',
  }));
  const bad = findings.filter((f) => f.severity !== 'info').map((f) => `${f.check} ${f.path} ${f.message}`);
  assert.deepEqual(bad.sort(), [
    'authorized-keys /home/jane/.ssh/authorized_keys authorized SSH keys: their owners could log in to every VM of the image',
    'firewall /etc/systemd/system no firewall starts at boot',
    'history /home/jane/.zsh_history a shell history: it may hold passwords and commands typed while making the image',
    'passwords /etc/shadow account bob has an empty password',
    'private-keys /home/jane/work/deploy.pem a private key, readable by whoever runs the image',
  ]);
});

test('a busybox image whose rcS loads /etc/nftables.conf has a firewall (ttylinux); a commented-out line does not count', async () => {
  const conf = 'table inet stratus {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n}\n';
  const on = await auditFs(memory({ '/etc/init.d/rcS': '#!/bin/sh\nmodprobe -a nf_tables nft_ct\nnft -f /etc/nftables.conf || echo no\n', '/etc/nftables.conf': conf }));
  assert.deepEqual(on.filter((f) => f.check === 'firewall').map((f) => `${f.severity} ${f.message}`), ['info nftables at boot (/etc/init.d/rcS), inbound policy drop']);
  const off = await auditFs(memory({ '/etc/init.d/rcS': '#!/bin/sh\n# nft -f /etc/nftables.conf\n', '/etc/nftables.conf': conf }));
  assert.deepEqual(off.filter((f) => f.check === 'firewall').map((f) => `${f.severity} ${f.message}`), ['warning no firewall starts at boot']);
});
