import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditFs } from './checks.js';
import { memory } from './memory-view.js';
import { lockPasswords, sysprepPlan } from './sysprep.js';

test('passwords are locked with "!", empty ones too; disabled, locked and malformed lines are kept as they are', () => {
  const shadow = 'root:$6$s$h:19000:0:99999:7:::\nbin:*:19000::::::\njane:!$6$x:1::::::\nbob::1::::::\n\nodd\n';
  assert.equal(lockPasswords(shadow), 'root:!:19000:0:99999:7:::\nbin:*:19000::::::\njane:!$6$x:1::::::\nbob:!:1::::::\n\nodd\n');
});

test('the plan: each fixable finding\'s file removed (a host key with its .pub), shadow and machine-id rewritten with their mode and owner, cloud-init state emptied but its seed and scripts; nothing for what is not fixable', async () => {
  const fs = memory({
    '/usr/bin/cloud-init': '#!', '/usr/sbin/sshd': '', '/etc/ssh/sshd_config': 'PasswordAuthentication yes\n',
    '/etc/ssh/ssh_host_ed25519_key': 'k', '/etc/ssh/ssh_host_ed25519_key.pub': 'p', '/etc/ssh/ssh_host_rsa_key': 'k',
    '/etc/machine-id': '0123\n', '/var/lib/dbus/machine-id': '0123\n', '/etc/shadow': 'root:$6$s$h:1::::::\n',
    '/home/jane/.ssh/authorized_keys': 'ssh-ed25519 AAAA jane', '/home/jane/.bash_history': 'ls\n',
    '/var/lib/cloud/instances/iid-1/sem/config_ssh': 'x', '/var/lib/cloud/data/status.json': '{}', '/var/lib/cloud/seed/nocloud/user-data': '#cloud-config\n', '/var/lib/cloud/scripts/per-boot/motd.sh': '#!/bin/sh\n',
  });
  const plan = await sysprepPlan(fs, await auditFs(fs));
  assert.deepEqual([...plan.remove].sort(), [
    '/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ed25519_key.pub', '/etc/ssh/ssh_host_rsa_key', '/home/jane/.bash_history',
    '/home/jane/.ssh/authorized_keys', '/var/lib/cloud/data/status.json', '/var/lib/cloud/instances/iid-1/sem/config_ssh', '/var/lib/dbus/machine-id',
  ]);
  assert.deepEqual(plan.removeDirs, ['/var/lib/cloud/instances/iid-1/sem', '/var/lib/cloud/instances/iid-1', '/var/lib/cloud/data', '/var/lib/cloud/instances'], 'deepest first, the seed and the maker\'s scripts kept');
  assert.deepEqual(plan.rewrite.map((r) => [r.path, r.content.toString(), r.entry.mode, r.entry.gid]), [['/etc/shadow', 'root:!:1::::::\n', 0o640, 42], ['/etc/machine-id', '', 0o640, 42]]);
  assert.ok(!plan.remove.includes('/etc/ssh/sshd_config'), 'PasswordAuthentication is the maker\'s to fix');
});
