import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { hashFile } from '../../src/platform/hashing.js';
import { multipart } from '../../src/context/mime.js';
import { waitForHttp } from '../../src/platform/probe.js';
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
    inboundPorts: [80, 8080],
  }, 90_000);
  assert.ok(sshMs < 60_000, `SSH answered after ${sshMs} ms`);
  assert.match(instance.address, /^127\.100\.\d+\.\d+$/);

  // A real OpenSSH login with the key from the seed.
  assert.equal(ssh(instance, key.path, 'hostname').trim(), 'tty-web');
  assert.match(ssh(instance, key.path, 'cat /proc/cmdline'), /root=LABEL=ttyroot/);

  // The page the user-data wrote, from the instance's own address and forwarded port 80.
  const body = await waitForHttp(`http://${instance.address}:${instance.ports.get(80)}/`, 30_000);
  assert.equal(body.trim(), 'Cloudy Weather Expected');

  // The image's firewall (rcS loads /etc/nftables.conf): a server on a port it does not publish
  // listens, and is not reached until open-port opens it.
  assert.match(ssh(instance, key.path, 'nft list set inet stratus tcp_ports'), /elements = \{ 22, 80, 443 \}/);
  ssh(instance, key.path, 'busybox httpd -p 8080 -h /www && busybox netstat -ltn | grep -c ":8080 "');
  const at8080 = `http://${instance.address}:${instance.ports.get(8080)}/`;
  const closed = await fetch(at8080, { signal: AbortSignal.timeout(5000) }).then(() => 'answered', () => 'blocked');
  assert.equal(closed, 'blocked', 'a port the image does not publish is unreachable');
  ssh(instance, key.path, 'open-port 8080');
  assert.equal((await waitForHttp(at8080, 30_000)).trim(), 'Cloudy Weather Expected', 'open-port opened it');
  assert.equal(ssh(instance, key.path, 'cat /etc/nftables.d/open-tcp-8080.nft').trim(), 'add element inet stratus tcp_ports { 8080 }', 'and for the next boots');

  // The guest reaches nothing on the host it was not given: a host service listening on
  // every address is not reachable through the user-mode gateway, nor is any other address.
  let contacted = 0;
  const hostService = createServer((s) => {
    contacted++;
    s.end('HTTP/1.0 200 OK\r\n\r\nhost secret\n');
  });
  await new Promise<void>((r) => hostService.listen(0, '0.0.0.0', r));
  try {
    const port = (hostService.address() as AddressInfo).port;
    // busybox nc: Debian's static busybox wget segfaults in the guest, and a crash also printed
    // "no answer", so this check once passed without trying anything.
    const tries = ssh(instance, key.path, `for a in 10.0.2.2 10.0.2.3 127.0.0.1; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 $a ${port} 2>&1 || echo "$a: no answer"; done`);
    assert.doesNotMatch(tries, /host secret|Segmentation fault/);
    assert.equal(tries.match(/: no answer$/gm)?.length, 3, tries);
    assert.equal(contacted, 0, 'no connection from the guest reached the host service');
  } finally {
    hostService.close();
  }

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
