import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { waitForHttp } from '../../src/platform/probe.js';
import { runCli, ok } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { bridgeDataDir } from '../helpers/vm-cloud.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlot, acquireGuestSlots, recipeImage, sshKey } from '../helpers/vm.js';
import { tapName } from '../../src/network/host-network.js';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * The guide's web-server example ("Contextualization"), on the server's bridge: the script goes
 * in through --cloud-init (multipart and `none`) and through stratus-prepare-context +
 * --context-file, and `curl http://<Public ip>/test.txt` prints SUCCESSFUL TEST. On ttylinux the
 * script uses busybox httpd where the guide installs Apache with yum.
 */
const { dir, dataDir, bridge } = bridgeDataDir('stw');
const admin = { username: 'admin', password: 'admin-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
const server = await startServerProcess(dataDir, ['--network', 'bridge'], env);
const key = sshKey(dir, 'id_rsa');
writeFileSync(join(dir, 'run-http.sh'), '#!/bin/sh -x\n\nmkdir -p /var/www/html\n\ncat > /var/www/html/test.txt <<EOF\nSUCCESSFUL TEST\nEOF\n\nbusybox httpd -p 80 -h /var/www/html\n');

/** The page at the instance's address; on failure, the error says what its console showed. */
function waitForPage(ip: string, id: string, what: string): Promise<string> {
  return waitForHttp(`http://${ip}/test.txt`, 180_000, 200, 'SUCCESSFUL TEST\n').catch(async (e: Error) => {
    const console = await fetch(`${server.url}/instances/${id}/console`, { headers: { authorization: `Basic ${Buffer.from('alice:alice-pass-1').toString('base64')}` } });
    throw new Error(`${what}: ${e.message}; console:\n${(await console.text()).slice(-3000)}`);
  });
}

const alice = (args: string[]): ReturnType<typeof runCli> => runCli(args, {
  cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: 'alice', STRATUSLAB_PASSWORD: 'alice-pass-1' },
});

test('the guide\'s web-server example on ttylinux, on the bridge: --cloud-init multipart, --cloud-init none, prepare-context + --context-file, and the one context CD each serve SUCCESSFUL TEST at the Public ip (the second instance once got no address: dnsmasq kept the ended one\'s lease)', async (t) => {
  const image = await publishRecipe(server.url, dataDir, 'ttylinux', { dir, env });
  await addAccount(server.url, admin, 'alice', 'alice-pass-1');
  ok(await alice(['prepare-context', 'ssh,$HOME/id_rsa.pub', 'x-shellscript,run-http.sh']));

  const releaseSlot = await acquireGuestSlot();
  t.after(releaseSlot);
  const ways: Array<[string, string[]]> = [
    ['--cloud-init multipart', ['--cloud-init', 'ssh,$HOME/id_rsa.pub#x-shellscript,run-http.sh']],
    ['--cloud-init none', ['--cloud-init', 'ssh,$HOME/id_rsa.pub#none,run-http.sh']],
    ['--context-file cloud-init.txt', ['--context-file', 'cloud-init.txt']],
    // StratusLab's default method: the OpenNebula context CD, the script as START_SCRIPT_BASE64.
    ['--context-method one', ['--context-method', 'one', '-k', `${key.path}.pub`, '--context', `START_SCRIPT_BASE64=${readFileSync(join(dir, 'run-http.sh')).toString('base64')}`]],
  ];
  for (const [way, options] of ways) {
    const run = ok(await alice(['run-instance', '--ram', '256', ...options, image.identifier]));
    const m = /vm ID: (\d+)\)\n\tPublic ip: (\S+)/.exec(run.stdout);
    assert.ok(m, run.stdout);
    const [, id, ip] = m;
    try {
      assert.match(ip as string, /^10\.\d+\.\d+\.\d+$/, `${way}: the Public ip is the instance's lease on the bridge`);
      const body = await waitForPage(ip as string, id as string, way);
      assert.equal(body, 'SUCCESSFUL TEST\n', way);
      const uname = ok(await alice(['connect-instance', '-k', key.path, id as string, '--', 'uname', '-n'])).stdout.trim();
      assert.equal(uname, `one-${id}`, `${way}: ssh as root with the key from the context`);
    } finally {
      ok(await alice(['kill-instance', id as string]));
    }
    assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', tapName(bridge, `one-${id}`)], { stdio: 'pipe' }), `${way}: kill gave the TAP back`);
  }
});

test('isolation on the server\'s bridge, with real listeners: bob\'s guest reaches the package proxy and nothing else on the host, and alice\'s guest refuses it while the host reaches her page', async (t) => {
  const image = await recipeImage('ttylinux');
  await addAccount(server.url, admin, 'bob', 'bob-pass-1');
  const bob = (args: string[]): ReturnType<typeof runCli> => runCli(args, {
    cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: 'bob', STRATUSLAB_PASSWORD: 'bob-pass-1' },
  });
  // A host service nobody gave the guests, on every address of the host.
  const seen = { count: 0 };
  const secret = createServer((c) => { seen.count++; c.end('HTTP/1.0 200 OK\r\n\r\nhost secret\n'); });
  await new Promise<void>((r) => secret.listen(0, '0.0.0.0', r));
  t.after(() => secret.close());
  const secretPort = (secret.address() as AddressInfo).port;

  // Both slots at once: holding one while waiting for another deadlocks with a test doing the same.
  const releaseSlots = await acquireGuestSlots(2);
  const ids: Array<[typeof alice, string]> = [];
  t.after(async () => {
    for (const [who, id] of ids) await who(['kill-instance', id]);
    releaseSlots();
  });
  const start = async (who: typeof alice, options: string[]): Promise<{ id: string; ip: string }> => {
    const out = ok(await who(['run-instance', '--ram', '256', ...options, image.identifier])).stdout;
    const m = /vm ID: (\d+)\)\n\tPublic ip: (\S+)/.exec(out);
    assert.ok(m, out);
    ids.push([who, m[1] as string]);
    return { id: m[1] as string, ip: m[2] as string };
  };
  const a = await start(alice, ['--cloud-init', 'ssh,$HOME/id_rsa.pub#x-shellscript,run-http.sh']);
  const b = await start(bob, ['-k', `${key.path}.pub`]);
  assert.equal(await waitForPage(a.ip, a.id, 'alice'), 'SUCCESSFUL TEST\n', 'the host reaches alice\'s page');

  const hostAddress = a.ip.replace(/\.\d+$/, '.1');
  const proxyPort = /proxy_port = (\d+)/.exec(readFileSync(join(dataDir, 'stratus.cfg'), 'utf8'))?.[1] as string;
  const get = (host: string, port: string | number, label: string): string =>
    // The request's input stays open 2 s: apt-cacher-ng drops a client that half-closes before it answers.
    `(printf 'GET / HTTP/1.0\\r\\n\\r\\n'; sleep 2) | busybox nc -w ${label === 'proxy' ? 10 : 3} ${host} ${port} 2>&1 | head -1 || true; echo "${label} done"`;
  const tries = ok(await bob(['connect-instance', '-k', key.path, b.id, '--', [
    get(hostAddress, proxyPort, 'proxy'), get(a.ip, 80, 'alice'), get(hostAddress, secretPort, 'secret'),
  ].join('; ')])).stdout;
  const section = (label: string): string => tries.slice(0, tries.indexOf(`${label} done`)).split(/\w+ done\n/).pop() ?? '';
  assert.match(section('proxy'), /^HTTP\/1\.[01] /, `bob's guest reaches the package proxy:\n${tries}`);
  assert.doesNotMatch(section('alice'), /HTTP/, `alice's guest refuses bob's:\n${tries}`);
  assert.doesNotMatch(section('secret'), /HTTP|host secret/, `the host's other service is out of reach:\n${tries}`);
  assert.equal(seen.count, 0, 'no connection from the guest reached the host service');
});

test('the server stops cleanly: its bridge, nftables tables, dnsmasq and package proxy are gone', async () => {
  await server.stop();
  assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', bridge], { stdio: 'pipe' }), 'no bridge left');
  const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  assert.doesNotMatch(tables, new RegExp(`stratus_${bridge}`), 'no nftables table left');
  const procs = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  assert.doesNotMatch(procs, new RegExp(`interface=${bridge}`), 'no dnsmasq left');
  assert.doesNotMatch(procs, new RegExp(`CacheDir=${dataDir}`), 'no apt-cacher-ng left');
});
