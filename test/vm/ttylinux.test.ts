import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { hashFile } from '../../src/platform/hashing.js';
import { multipart } from '../../src/context/mime.js';
import { tempDir } from '../helpers/tmp.js';
import { bootGuest, qemuProcessesFor, recipeImage, ssh, sshKey } from '../helpers/vm.js';

const dir = tempDir();
const key = sshKey(dir);
const image = await recipeImage('ttylinux');
const instancesDir = join(dir, 'instances');

const webScript = (text: string): string => `#!/bin/sh\nmkdir -p /www\necho '${text}' > /www/index.html\nbusybox httpd -p 80 -h /www\n`;

test('ttylinux boots from an overlay, takes the seed (key + script), serves its page, and powers off through QMP', async () => {
  const before = (await hashFile(image.path, { algorithms: ['sha1'], compression: 'none' })).digests.sha1;
  const { instance, sshMs } = await bootGuest({
    name: 'tty-web', instancesDir, base: { path: image.path, format: 'raw' }, vcpus: 1, memoryMiB: 256, tcgCacheMiB: 64,
    seed: { instanceId: 'i-tty-web', hostname: 'tty-web', sshKeys: [key.publicKey], userData: webScript('Cloudy Weather Expected') },
    inboundPorts: [80],
  }, 90_000);
  assert.ok(sshMs < 60_000, `SSH answered after ${sshMs} ms`);
  assert.match(instance.address, /^127\.100\.\d+\.\d+$/);

  // A real OpenSSH login with the key from the seed.
  assert.equal(ssh(instance, key.path, 'hostname').trim(), 'tty-web');
  assert.match(ssh(instance, key.path, 'cat /proc/cmdline'), /root=LABEL=ttyroot/);

  // The page the user-data wrote, from the instance's own address and forwarded port 80.
  let body = '';
  for (let i = 0; i < 60 && !body.includes('Cloudy'); i++) {
    body = await fetch(`http://${instance.address}:${instance.ports.get(80)}/`).then((r) => r.text(), () => '');
    if (!body.includes('Cloudy')) await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(body.trim(), 'Cloudy Weather Expected');

  // Graceful shutdown: press the power button, QEMU exits by itself.
  const exited = instance.machine.waitForExit(60_000);
  await instance.machine.powerdown();
  const exit = await exited;
  assert.equal(exit.reason, 'guest-shutdown');
  assert.deepEqual(qemuProcessesFor('tty-web'), []);

  // The image itself was never written.
  const afterSha = (await hashFile(image.path, { algorithms: ['sha1'], compression: 'none' })).digests.sha1;
  assert.equal(afterSha, before);
  assert.equal(afterSha, image.sha1);
});

test('ttylinux contextualizes gzip user-data and MIME multipart with a cloud-config part (keys, write_files, runcmd)', async () => {
  const extra = sshKey(dir, 'second');
  const userData = gzipSync(multipart([
    { type: 'text/cloud-config', content: `#cloud-config\nssh_authorized_keys:\n  - ${extra.publicKey}\nwrite_files:\n  - path: /etc/motd.stratus\n    content: written by cloud-config\n    permissions: '0644'\nruncmd:\n  - echo ran > /root/runcmd.txt\n` },
    { type: 'text/x-shellscript', content: '#!/bin/sh\necho script > /root/script.txt\n' },
  ]));
  const { instance } = await bootGuest({
    name: 'tty-mime', instancesDir, base: { path: image.path, format: 'raw' }, vcpus: 1, memoryMiB: 256, tcgCacheMiB: 64,
    seed: { instanceId: 'i-tty-mime', hostname: 'tty-mime', sshKeys: [key.publicKey], userData }, inboundPorts: [],
  }, 90_000);
  // Keys from both meta-data and cloud-config work; scripts and runcmd run after boot.
  let out = '';
  for (let i = 0; i < 40 && !out.includes('ran'); i++) {
    out = ssh(instance, extra.path, 'cat /etc/motd.stratus /root/script.txt /root/runcmd.txt 2>/dev/null || true');
    if (!out.includes('ran')) await new Promise((r) => setTimeout(r, 500));
  }
  // As with cloud-init, a plain YAML scalar is written without a trailing newline.
  assert.equal(out, 'written by cloud-configscript\nran\n');
  await instance.machine.kill();
});
