import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { hashFile } from '../../src/platform/hashing.js';
import { multipart } from '../../src/context/mime.js';
import { waitForHttp } from '../../src/platform/probe.js';
import type { LaunchedInstance } from '../../src/compute/launch.js';
import { tempDir } from '../helpers/tmp.js';
import { bootGuest, qemuProcessesFor, recipeImage, ssh, sshKey } from '../helpers/vm.js';

const dir = tempDir();
const key = sshKey(dir);
const image = await recipeImage('debian-12');
const instancesDir = join(dir, 'instances');

/**
 * The seed's user-data: a shell script and a cloud-config part. Port 80 is published by the
 * image (no open-port needed); 8443 is opened by the script (and 80 again, as an old habit
 * must not break the script); 8080 is started but never opened.
 */
function userData(name: string): string {
  return multipart([
    { type: 'text/x-shellscript', content: `#!/bin/sh\nset -e\nmkdir -p /srv/www\necho 'Cloudy Weather Expected on ${name}' > /srv/www/cloud.txt\n`
      + 'systemd-run --unit=web python3 -m http.server 80 --directory /srv/www\n'
      + 'open-port 80 8443\n'
      + 'systemd-run --unit=opened python3 -m http.server 8443 --directory /srv/www\n'
      + 'systemd-run --unit=closed python3 -m http.server 8080 --directory /srv/www\n' },
    { type: 'text/cloud-config', content: `#cloud-config\nwrite_files:\n  - path: /etc/stratus-test\n    content: |\n      written by cloud-config on ${name}\n` },
  ]);
}

async function boot(name: string): Promise<LaunchedInstance> {
  const { instance } = await bootGuest({
    name, instancesDir, base: { path: image.path, format: 'raw' }, vcpus: 2, memoryMiB: 1024,
    seed: { instanceId: `i-${name}`, hostname: name, sshKeys: [key.publicKey], userData: userData(name) }, inboundPorts: [80, 8080, 8443],
  }, 300_000);
  return instance;
}

test('debian-12: two instances with real cloud-init (multipart user-data) are done, serve their page, and differ in host keys and machine-id', async () => {
  const before = (await hashFile(image.path, { algorithms: ['sha1'], compression: 'none' })).digests.sha1;
  const [a, b] = await Promise.all([boot('deb-a'), boot('deb-b')]);
  for (const [inst, name] of [[a, 'deb-a'], [b, 'deb-b']] as const) {
    const status = ssh(inst, key.path, 'cloud-init status --wait --long; true', 300_000);
    assert.match(status, /status: done/, status);
    assert.doesNotMatch(status, /status: error/);
    assert.equal(ssh(inst, key.path, 'cat /etc/stratus-test').trim(), `written by cloud-config on ${name}`);
    const body = await waitForHttp(`http://${inst.address}:${inst.ports.get(80)}/cloud.txt`, 60_000);
    assert.equal(body.trim(), `Cloudy Weather Expected on ${name}`);
    // Root by key only; no password anywhere.
    assert.match(ssh(inst, key.path, 'sshd -T | grep -E "^(permitrootlogin|passwordauthentication) "'), /permitrootlogin without-password\npasswordauthentication no/);
  }
  const hostKey = (i: LaunchedInstance) => ssh(i, key.path, 'cat /etc/ssh/ssh_host_ed25519_key.pub').split(' ')[1];
  const machineId = (i: LaunchedInstance) => ssh(i, key.path, 'cat /etc/machine-id').trim();
  assert.notEqual(hostKey(a), hostKey(b), 'each instance made its own SSH host key');
  assert.notEqual(machineId(a), machineId(b), 'each instance made its own machine-id');
  assert.match(machineId(a), /^[0-9a-f]{32}$/);
  // The image rules of the guide ("Building Images from Scratch"), seen from inside a guest.
  const audit = ssh(a, key.path, [
    'echo "persistent-net: $(ls /etc/udev/rules.d/ 2>/dev/null | grep -c persistent-net)"',
    'echo "passwords: $(awk -F: \'$2 !~ /^[*!]/ {print $1}\' /etc/shadow | xargs)"',
    'echo "debs: $(find /var/cache/apt/archives -name "*.deb" | wc -l)"',
    'echo "dhcp: $(ip -4 -o addr show scope global | awk \'{print $4}\' | xargs)"',
  ].join('; '));
  assert.match(audit, /^persistent-net: 0$/m, audit);
  assert.match(audit, /^passwords: $/m, audit);
  assert.match(audit, /^debs: 0$/m, audit);
  assert.match(audit, /^dhcp: 10\.0\.2\.15\/24$/m, audit);
  // The published ports (22, 80, 443) and the one the user-data opened answer from outside; nothing else.
  assert.match(ssh(a, key.path, 'nft list set inet stratus tcp_ports'), /elements = \{ 22, 80, 443, 8443 \}/);
  assert.equal((await waitForHttp(`http://${a.address}:${a.ports.get(8443)}/cloud.txt`, 60_000)).trim(), 'Cloudy Weather Expected on deb-a');
  assert.match(ssh(a, key.path, 'ss -ltnH "sport = :8080"'), /:8080/, 'the closed server is listening');
  const closed = await fetch(`http://${a.address}:${a.ports.get(8080)}/cloud.txt`, { signal: AbortSignal.timeout(5000) }).then(() => 'answered', () => 'blocked');
  assert.equal(closed, 'blocked', 'a port the user-data did not open is unreachable');
  assert.equal(ssh(a, key.path, 'ls /etc/nftables.d/').trim().split('\n').filter((f) => f.endsWith('.nft')).join(), 'open-tcp-80.nft,open-tcp-8443.nft', 'open-port persists the rule');

  // Graceful shutdown: the ACPI power button, and QEMU exits by itself.
  for (const [inst, name] of [[a, 'deb-a'], [b, 'deb-b']] as const) {
    const exited = inst.machine.waitForExit(120_000);
    await inst.machine.powerdown();
    assert.equal((await exited).reason, 'guest-shutdown');
    assert.deepEqual(qemuProcessesFor(name), []);
  }
  assert.equal((await hashFile(image.path, { algorithms: ['sha1'], compression: 'none' })).digests.sha1, before, 'the base image is unchanged');
});
