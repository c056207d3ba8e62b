import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { waitForHttp } from '../../src/platform/probe.js';
import { runCli, ok } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { bridgeDataDir } from '../helpers/vm-cloud.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlot, sshKey } from '../helpers/vm.js';

/**
 * The guide's web-server example as written, on debian-12 and the server's bridge: run-http.sh
 * with `apt-get install -y apache2` where the guide has yum and chkconfig. Apache comes through
 * the server's package proxy (debian-12 learns it from vendor-data); the guest reaches nothing
 * else, so a page at the Public ip proves the proxy served the packages.
 */
const { dir, dataDir, bridge } = bridgeDataDir('std');
const admin = { username: 'admin', password: 'admin-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
const server = await startServerProcess(dataDir, ['--network', 'bridge'], env);
sshKey(dir, 'id_rsa');
writeFileSync(join(dir, 'run-http.sh'), '#!/bin/bash -x\n\napt-get update\napt-get install -y apache2\n\ncat > /var/www/html/test.txt <<EOF\nSUCCESSFUL TEST\nEOF\n\nsystemctl enable apache2\n\nsystemctl start apache2\n');

const alice = (args: string[]): ReturnType<typeof runCli> => runCli(args, {
  cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: 'alice', STRATUSLAB_PASSWORD: 'alice-pass-1' },
});

async function serveOnce(way: string, options: string[], identifier: string): Promise<void> {
  const releaseSlot = await acquireGuestSlot();
  let id: string | undefined;
  try {
    const run = ok(await alice(['run-instance', '--ram', '1024', ...options, identifier]));
    const m = /vm ID: (\d+)\)\n\tPublic ip: (\S+)/.exec(run.stdout);
    assert.ok(m, run.stdout);
    id = m[1] as string;
    const body = await waitForHttp(`http://${m[2] as string}/test.txt`, 600_000, 200, 'SUCCESSFUL TEST\n').catch(async (e: Error) => {
      const console = await fetch(`${server.url}/instances/${id as string}/console`, { headers: { authorization: `Basic ${Buffer.from('alice:alice-pass-1').toString('base64')}` } });
      throw new Error(`${way}: ${e.message}; console:\n${(await console.text()).slice(-4000)}`);
    });
    assert.equal(body, 'SUCCESSFUL TEST\n', way);
  } finally {
    if (id) await alice(['kill-instance', id]);
    releaseSlot();
  }
}

test('the guide\'s web-server example on debian-12: apache2 installed through the host\'s package proxy answers SUCCESSFUL TEST at the Public ip, through --cloud-init multipart, --cloud-init none and prepare-context + --context-file', async () => {
  const image = await publishRecipe(server.url, dataDir, 'debian-12', { dir, env });
  await addAccount(server.url, admin, 'alice', 'alice-pass-1');
  ok(await alice(['prepare-context', 'ssh,$HOME/id_rsa.pub', 'x-shellscript,run-http.sh']));
  // Two guests at once, then the third: the proxy's cache makes the later installs quick.
  // Both settle before the test goes on: a failure of one must not leave the other's VM running.
  const both = await Promise.allSettled([
    serveOnce('--cloud-init multipart', ['--cloud-init', 'ssh,$HOME/id_rsa.pub#x-shellscript,run-http.sh'], image.identifier),
    serveOnce('--cloud-init none', ['--cloud-init', 'ssh,$HOME/id_rsa.pub#none,run-http.sh'], image.identifier),
  ]);
  for (const r of both) if (r.status === 'rejected') throw r.reason;
  await serveOnce('--context-file cloud-init.txt', ['--context-file', 'cloud-init.txt'], image.identifier);
  // The packages came through the proxy: it logged them.
  const log = execFileSync('sh', ['-c', `cat ${join(dir, 'proxy', 'log')}/apt-cacher.log 2>/dev/null || true`], { encoding: 'utf8' });
  assert.match(log, /apache2/, 'the package proxy served apache2');
});

test('the debian server stops cleanly: no bridge, table, dnsmasq or proxy left', async () => {
  await server.stop();
  assert.throws(() => execFileSync('ip', ['link', 'show', 'dev', bridge], { stdio: 'pipe' }));
  assert.doesNotMatch(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), new RegExp(`stratus_${bridge}`));
  assert.doesNotMatch(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }), new RegExp(`interface=${bridge}|CacheDir=${dir}`));
});
