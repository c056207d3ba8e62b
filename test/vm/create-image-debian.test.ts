/**
 * Issue 10, Done when: the seed's automated example on debian-12. `stratus-create-image -a
 * apache2 -s setup.sh` (apache2 from Debian's archive through the server's package proxy, the
 * only way out its guests have), a setup script writing /var/www/html/cloud.txt. The steps
 * are printed as the seed shows them; the outbox holds `New image created <ID>`;
 * stratus-describe-volumes lists the volume with that identifier; the draft is its owner's
 * only; `stratus-run-instance <ID>` then `curl http://<ip>/cloud.txt` gives the page.
 *
 * Then crash safety (Done when): that instance runs with --save too, and the server is killed
 * with SIGKILL in the middle of its Epilog (a debian-12 disk, so the save lasts long enough to
 * be hit), then started again on the same data dir: the save completes once (one volume, one
 * mail, one draft) and the user's overlay is still there. (Regressions: the resumed save ran
 * before the server listened, with no URL for its draft, "Invalid URL"; the killed server's
 * apt-cacher-ng kept running beside the new one's.)
 *
 * That second instance runs with another key than the one the image was made with. Regression:
 * cloud-init took a VM booted from a disk saved in another VM for that VM (the `one` context
 * gives every VM the same instance-id): the new key was never installed, and the network config
 * rendered for the old VM's MAC held the boot for systemd-networkd-wait-online's 2 minutes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../src/platform/data-dir.js';
import { waitForHttp } from '../../src/platform/probe.js';
import { runCli, ok } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import type { ServerProcess } from '../helpers/server.js';
import { bridgeDataDir } from '../helpers/vm-cloud.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlots, ssh, sshKey } from '../helpers/vm.js';
import { checkSavedImage } from '../helpers/saved-image.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';

const { dir, dataDir } = bridgeDataDir('stc');
const admin = { username: 'admin', password: 'admin-pass-1' };
const ALICE = { username: 'alice', password: 'alice-pass-1' };
const BOB = { username: 'bob', password: 'bob-pass-1' };
const env = { STRATUS_ADMIN_PASSWORD: admin.password, STRATUS_CACHE_DIR: cacheRoot() };
let server: ServerProcess = await startServerProcess(dataDir, ['--network', 'bridge'], env);
const auth = { authorization: `Basic ${Buffer.from(`${ALICE.username}:${ALICE.password}`).toString('base64')}`, accept: 'application/json' };
const key = sshKey(dir);
const otherKey = sshKey(dir, 'id_other');
writeFileSync(join(dir, 'setup.sh'), [
  '#!/bin/sh', 'set -e',
  '# the guide\'s advice: no cached network rules in the saved image',
  'rm -f /lib/udev/rules.d/*net-gen* /etc/udev/rules.d/*net.rules',
  'echo "Cloudy Weather Expected" > /var/www/html/cloud.txt',
  'systemctl enable apache2', '',
].join('\n'));

const alice = (args: string[]): ReturnType<typeof runCli> =>
  runCli(args, { cwd: dir, home: dir, env: { ...env, STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: ALICE.username, STRATUSLAB_PASSWORD: ALICE.password } });

test('the seed\'s automated example on debian-12: apache2 and a setup script make an image that is mailed, drafted, listed, and serves cloud.txt when run', async (t) => {
  const image = await publishRecipe(server.url, dataDir, 'debian-12', { dir, env });
  await addAccount(server.url, admin, ALICE.username, ALICE.password);
  await addAccount(server.url, admin, BOB.username, BOB.password);
  const release = await acquireGuestSlots(1);
  t.after(release);
  const title = 'debian-12 with apache2 and cloud.txt';
  const r = await alice(['create-image', '-k', `${key.path}.pub`, '--ram', '1024', '-a', 'apache2', '-s', 'setup.sh',
    '--title', title, '--comment', 'the seed\'s example', '--author', 'Jane Tester', '--author-email', 'jane@example.org', image.identifier]);
  const vm = / :: Machine 1 \(vm ID: (\d+)\)/.exec(r.stdout);
  if (vm) t.after(async () => { await alice(['kill-instance', vm[1] as string]); });
  assert.equal(r.code, 0, `stdout: ${r.stdout}\nstderr: ${r.stderr}\n${server.log().slice(-3000)}`);
  const steps = [':: Starting image creation ::', ':: Checking that base image exists', ':: Retrieving image manifest', ':: Starting base image',
    ':: Waiting for machine to boot', ':: Waiting for machine network to start', ':: Check if we can connect to the machine',
    ':: Executing user prerecipe', ':: Installing user packages', ':: Executing user recipe', ':: Executing user scripts',
    ':: Finished building image increment. ::', ':: Please check jane@example.org for new image ID and instruction. ::', ':: Shutting down machine'];
  let at = 0;
  for (const step of steps) {
    const found = r.stdout.indexOf(step, at);
    assert.ok(found >= at, `"${step}" after position ${at} in:\n${r.stdout}`);
    at = found + step.length;
  }
  assert.ok(vm);
  const id = Number(vm[1]);
  const done = JSON.parse(ok(await alice(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo[];
  const info = done[0] as InstanceInfo;
  assert.equal(info.state, 'Done', `message: ${String(info.message)}\n${server.log().slice(-3000)}`);
  const m = /^MARKETPLACE_AND_IMAGEID (\S+) ([A-Za-z0-9_-]{27})$/.exec(info.message ?? '');
  assert.ok(m, String(info.message));
  const identifier = m[2] as string;
  await checkSavedImage({ url: server.url, dataDir, identifier, owner: ALICE, other: BOB, authorEmail: 'jane@example.org', title, cli: alice,
    // create-image removed what the build left (host keys, the builder's key, machine-id, cloud-init's state).
    verdict: /^the seed's example\nImage check \(stratus-check-image\): no problems found\.$/,
  });

  const run = ok(await alice(['run-instance', '-k', `${otherKey.path}.pub`, '--ram', '1024', '--save', '--author', 'Jane Tester', '--author-email', 'jane@example.org',
    '--title', 'saved through a crash', '--comment', 'survives SIGKILL', '--image-version', '2.0', identifier]));
  const started = /vm ID: (\d+)\)\n\tPublic ip: (\S+)/.exec(run.stdout);
  assert.ok(started, run.stdout);
  const second = Number(started[1]);
  t.after(async () => { await alice(['kill-instance', String(second)]); });
  const body = await waitForHttp(`http://${started[2] as string}/cloud.txt`, 600_000, 200, 'Cloudy Weather Expected\n');
  assert.equal(body, 'Cloudy Weather Expected\n');
  const guest = { address: started[2] as string, ports: new Map([[22, 22]]) } as Parameters<typeof ssh>[0];
  // Only a new instance installs the run's key (cc_ssh is per instance).
  const boot = ssh(guest, otherKey.path, 'systemctl is-failed systemd-networkd-wait-online.service || true; cut -c1-8 /var/lib/stratus/machine-uuid');
  assert.match(boot, /^active\n[0-9a-f]{8}\n$/, 'network online without the 2-minute wait; the machine recorded as new');

  // Crash safety: SIGKILL while the --save instance is in Epilog, then a restart.
  const stateOf = async (): Promise<InstanceInfo> => await (await fetch(`${server.url}/instances/${second}`, { headers: auth })).json() as InstanceInfo;
  const overlay = (await stateOf()).disk as string;
  const mails = (): number => readdirSync(join(dataDir, 'outbox')).filter((f) => f.endsWith('.eml')).length;
  const mailsBefore = mails();
  // The shutdown's answer never comes: the server dies under it.
  void fetch(`${server.url}/instances/${second}/shutdown`, { method: 'POST', headers: auth }).catch(() => undefined);
  const deadline = Date.now() + 300_000;
  let seen = (await stateOf()).state;
  while (seen !== 'Epilog' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    seen = (await stateOf()).state;
    assert.notEqual(seen, 'Done', 'the Epilog ended before it could be killed: the test proves nothing');
  }
  assert.equal(seen, 'Epilog');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await stateOf()).state, 'Epilog', 'still saving when killed');
  server.child.kill('SIGKILL');
  await new Promise((r) => server.child.once('exit', r));
  server = await startServerProcess(dataDir, ['--network', 'bridge'], env);
  // Regression: the killed server's apt-cacher-ng stayed running (for ever, after the folder was gone).
  const proxies = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(`CacheDir=${join(dir, 'proxy', 'cache')}`);
    } catch {
      return false;
    }
  });
  assert.equal(proxies.length, 1, `one apt-cacher-ng for this server's proxy folder, not ${proxies.length}`);
  let after = await stateOf();
  while (after.state === 'Epilog' && Date.now() < deadline + 300_000) {
    await new Promise((r) => setTimeout(r, 500));
    after = await stateOf();
  }
  assert.equal(after.state, 'Done', `message: ${String(after.message)}\n${server.log()}`);
  const again = /^MARKETPLACE_AND_IMAGEID (\S+) ([A-Za-z0-9_-]{27})$/.exec(after.message ?? '');
  assert.ok(again, String(after.message));
  await checkSavedImage({ url: server.url, dataDir, identifier: again[2] as string, owner: ALICE, other: BOB, authorEmail: 'jane@example.org', title: 'saved through a crash', cli: alice,
    verdict: /^survives SIGKILL\nImage check \(stratus-check-image\): \d+ error\(s\), \d+ warning\(s\): host-keys \/etc\/ssh\/ssh_host_.*authorized-keys \/root\/\.ssh\/authorized_keys /,
  });
  assert.equal(mails(), mailsBefore + 1, 'one mail, not one per attempt');
  assert.ok(readdirSync(join(dataDir, 'volumes')).some((f) => f.startsWith(overlay)), 'the user\'s overlay is still there (quarantined)');
});
