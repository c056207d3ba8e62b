import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { macFor } from '../../src/compute/drivers/qemu/qemu-args.js';
import { HostNetwork, tapName } from '../../src/network/host-network.js';
import { tableName } from '../../src/network/firewall.js';
import { waitForHttp } from '../../src/platform/probe.js';
import { tempDir } from '../helpers/tmp.js';
import { bootGuest, qemuProcessesFor, recipeImage, ssh, sshKey } from '../helpers/vm.js';

const dir = tempDir();
const key = sshKey(dir);
const image = await recipeImage('ttylinux');

function httpListener(host: string, port: number, text: string, seen: { count: number }): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer((s) => { seen.count++; s.end(`HTTP/1.0 200 OK\r\n\r\n${text}\n`); });
    srv.once('error', reject);
    srv.listen({ host, port }, () => resolve(srv));
  });
}

test('ttylinux on the bridge: takes its fixed lease by DHCP, answers SSH and every port at that address, reaches the proxy and nothing else on the host', async (t) => {
  const tag = randomBytes(3).toString('hex');
  const bridge = `stv${tag}`;
  const name = `tty-br-${tag}`;
  const proxyPort = 30000 + (parseInt(tag, 16) % 20000);
  const net = await HostNetwork.open({ stateDir: join(dir, 'net'), bridge, pool: '10.213.0.0/16', proxyPort });
  const listeners: Server[] = [];
  t.after(async () => {
    for (const l of listeners) l.close();
    await net.close().catch(() => undefined);
  });
  const proxySeen = { count: 0 };
  const otherSeen = { count: 0 };
  listeners.push(await httpListener(net.hostAddress, proxyPort, 'proxy here', proxySeen));
  const other = await httpListener('0.0.0.0', 0, 'host secret', otherSeen);
  listeners.push(other);

  const port = await net.attach(name, 'alice', macFor(name));
  const { instance, release } = await bootGuest({
    name, instancesDir: join(dir, 'instances'), base: { path: image.path, format: 'raw' }, vcpus: 1, memoryMiB: 256, tcgCacheMiB: 64,
    seed: { instanceId: `i-${name}`, hostname: 'tty-br', sshKeys: [key.publicKey], userData: '#!/bin/sh\nmkdir -p /www\necho bridged > /www/index.html\nopen-port 8081\nbusybox httpd -p 8081 -h /www\n' },
    inboundPorts: [], bridge: { tap: port.ifname, address: port.address, gateway: net.hostAddress },
  }, 120_000);

  // The address is the lease dnsmasq gave for this MAC, and every guest port answers there.
  assert.equal(instance.address, port.address);
  assert.match(ssh(instance, key.path, 'ip -4 -o addr show dev eth0'), new RegExp(`inet ${port.address.replace(/\./g, '\\.')}/24`));
  assert.equal((await waitForHttp(`http://${port.address}:8081/`, 30_000)).trim(), 'bridged', 'a port the image never published answers at the instance address');

  // Given: the proxy on the bridge address. Not given: another host port, the host's other
  // addresses, the outside world.
  const otherPort = (other.address() as AddressInfo).port;
  const hostEth = execFileSync('ip', ['-4', '-o', 'route', 'get', '1.1.1.1'], { encoding: 'utf8' }).match(/ src (\S+)/)?.[1] ?? '127.0.0.1';
  // busybox nc, not wget: Debian's static busybox wget segfaults in these guests (exit 139).
  const get = (host: string, p: number, label: string): string => `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 ${host} ${p} 2>&1 || echo "${label}: no answer"`;
  // Asynchronously: the listeners live in this process and must answer while ssh runs.
  const { stdout: tries } = await promisify(execFile)('ssh', ['-i', key.path, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${port.address}`, [
    get(net.hostAddress, proxyPort, 'proxy'), get(net.hostAddress, otherPort, 'bridge-address'), get(hostEth, otherPort, 'host-address'),
  ].join('; ')], { timeout: 60_000, encoding: 'utf8' });
  assert.match(tries, /proxy here/, tries);
  assert.match(tries, /bridge-address: no answer/, tries);
  assert.match(tries, /host-address: no answer/, tries);
  assert.doesNotMatch(tries, /host secret|Segmentation fault/);
  assert.equal(otherSeen.count, 0, 'no connection from the guest reached the other host service');
  assert.ok(proxySeen.count >= 1);

  // Kill, then the port goes: no QEMU, no TAP, no lease; the network itself closes cleanly.
  await release();
  assert.deepEqual(qemuProcessesFor(name), []);
  await net.detach(name);
  assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', tapName(bridge, name)], { stdio: 'pipe' }));
  await net.close();
  assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', bridge], { stdio: 'pipe' }));
  assert.doesNotMatch(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), new RegExp(tableName(bridge)));
});
