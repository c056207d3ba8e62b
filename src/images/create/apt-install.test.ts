import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { withServicesDeferred } from './apt-install.js';
import type { DeferPaths } from './apt-install.js';

/**
 * A guest played in a folder: a systemctl that logs its calls (multi-user.target active,
 * graphical.target not), and an "install" that does what maintainer scripts do: asks
 * policy-rc.d, reloads systemd and enables units. dash runs it, as in the guest.
 */
function fakeGuest(): { dir: string; paths: DeferPaths; log: string; run(install: string): { code: number; out: string } } {
  const dir = mkdtempSync(join(tmpdir(), 'apt-install-'));
  const bin = join(dir, 'bin');
  const paths: DeferPaths = { policy: join(dir, 'policy-rc.d'), units: join(dir, 'units'), run: join(dir, 'run'), booted: join(dir, 'run-systemd-system') };
  for (const d of [bin, paths.units, paths.run, paths.booted]) mkdirSync(d, { recursive: true });
  const log = join(dir, 'systemctl.log');
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh
echo "$*" >> '${log}'
case "$*" in
  'is-active --quiet multi-user.target') exit 0 ;;
  'is-active --quiet '*) exit 3 ;;
  'start broken.service') exit 1 ;;
esac
exit 0
`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  return {
    dir, paths, log,
    run: (install) => {
      const r = spawnSync('dash', ['-c', withServicesDeferred(install, paths)], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
      return { code: r.status ?? -1, out: r.stdout + r.stderr };
    },
  };
}

/** What a package's maintainer scripts do in a live system, and what they were answered. */
function maintainerScripts(paths: DeferPaths, units: string[]): string {
  const links = units.map((u) => `mkdir -p '${paths.units}/${u.split('/')[0]}' && ln -s /lib/systemd/system/x '${paths.units}/${u}'`).join('; ');
  return `sleep 0.01; ${links}; '${paths.policy}' apache2 start; echo "policy $?"; systemctl --system daemon-reload; systemctl is-enabled foo.service`;
}

test('the services an install enables start once it ends, with one daemon-reload, and the policy file is gone', (t) => {
  const g = fakeGuest();
  t.after(() => rmSync(g.dir, { recursive: true, force: true }));
  const r = g.run(maintainerScripts(g.paths, ['multi-user.target.wants/apache2.service', 'multi-user.target.wants/apache-htcacheclean.service', 'graphical.target.wants/desktop.service', 'sockets.target.requires/x.socket']));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /policy 101/, 'the maintainer scripts were refused their service actions');
  assert.match(r.out, /Started what the packages enabled: apache-htcacheclean.service apache2.service\n/);
  assert.deepEqual(readFileSync(g.log, 'utf8').trim().split('\n'), [
    'is-enabled foo.service',
    'daemon-reload',
    'is-active --quiet graphical.target',
    'is-active --quiet multi-user.target',
    'start apache-htcacheclean.service',
    'is-active --quiet multi-user.target',
    'start apache2.service',
    'is-active --quiet sockets.target',
  ], 'the scripts\' own daemon-reload never reached systemd; units of targets that are not active are not started');
  assert.equal(existsSync(g.paths.policy), false);
});

test('an install that fails keeps its exit status, starts nothing and leaves no policy-rc.d behind', (t) => {
  const g = fakeGuest();
  t.after(() => rmSync(g.dir, { recursive: true, force: true }));
  const r = g.run(`${maintainerScripts(g.paths, ['multi-user.target.wants/apache2.service'])}; exit 100`);
  assert.equal(r.code, 100);
  assert.equal(readFileSync(g.log, 'utf8').includes('start'), false);
  assert.equal(existsSync(g.paths.policy), false);
});

test('a unit that does not start is a warning, as in a plain install', (t) => {
  const g = fakeGuest();
  t.after(() => rmSync(g.dir, { recursive: true, force: true }));
  const r = g.run(maintainerScripts(g.paths, ['multi-user.target.wants/broken.service']));
  assert.equal(r.code, 0);
  assert.match(r.out, /warning: broken.service did not start/);
});

test('an image\'s own policy-rc.d, or no systemd running: the install runs as it is and the policy is left alone', (t) => {
  const g = fakeGuest();
  t.after(() => rmSync(g.dir, { recursive: true, force: true }));
  writeFileSync(g.paths.policy, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const own = g.run(`${maintainerScripts(g.paths, ['multi-user.target.wants/apache2.service'])}; exit 7`);
  assert.equal(own.code, 7);
  assert.match(own.out, /policy 0/);
  assert.equal(readFileSync(g.paths.policy, 'utf8'), '#!/bin/sh\nexit 0\n');
  rmSync(g.paths.policy);
  rmSync(g.paths.booted, { recursive: true });
  const chroot = g.run(maintainerScripts(g.paths, ['multi-user.target.wants/other.service']));
  assert.equal(chroot.code, 0);
  assert.doesNotMatch(readFileSync(g.log, 'utf8'), /start/);
});

test('the guest\'s snippet parses under dash', () => {
  const r = spawnSync('dash', ['-n', '-c', withServicesDeferred('apt-get -y install apache2')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
