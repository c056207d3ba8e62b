import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStratusError } from '../../domain/errors.js';
import { aptUpdateUnlessCurrent } from '../apt-index.js';
import type { GuestCommand } from './installers.js';
import { withServicesDeferred } from './apt-install.js';
import { installerFor, packageCommands, parsePackages, parseRepos, repoFiles, requireInstaller, writeFileCommand } from './installers.js';

test('installer by OS: apt for debian and ubuntu (Debian was refused by StratusLab), yum for the RPM family, none for the rest', () => {
  for (const os of ['debian', 'Debian', 'ubuntu', 'Ubuntu ']) assert.equal(installerFor(os), 'apt', os);
  for (const os of ['centos', 'fedora', 'sl', 'scientificlinux', 'rocky', 'almalinux', 'rhel', 'CentOS']) assert.equal(installerFor(os), 'yum', os);
  // StratusLab's quirk took any substring of "ubuntu" ("u", "bun") as apt: no more.
  for (const os of ['ttylinux', 'u', 'bun', '', 'opensuse', 'windows']) assert.equal(installerFor(os), undefined, os);
});

test('--installer wins over the OS; only apt, yum or dnf', () => {
  assert.equal(installerFor('ttylinux', 'apt'), 'apt');
  assert.equal(installerFor('debian', 'dnf'), 'dnf');
  assert.equal(installerFor('debian', 'YUM'), 'yum');
  assert.throws(() => installerFor('debian', 'zypper'), (e) => isStratusError(e, 'USAGE') && e.message === '--installer must be apt, yum, dnf, not zypper');
});

test('packages asked on an OS with no installer: StratusLab\'s "Unsupported OS: <os>"', () => {
  assert.throws(() => requireInstaller('ttylinux', undefined), (e) => isStratusError(e, 'USAGE') && e.message === 'Unsupported OS: ttylinux');
  assert.equal(requireInstaller('ttylinux', 'apt'), 'apt');
});

test('-a: comma-separated names, blanks dropped; apt\'s name=version, name:arch and name/release pass', () => {
  assert.deepEqual(parsePackages('apache2, chkconfig,,'), ['apache2', 'chkconfig']);
  assert.deepEqual(parsePackages('libc6:amd64,nginx=1.22.1-9,curl/bookworm-backports,g++,@core'), ['libc6:amd64', 'nginx=1.22.1-9', 'curl/bookworm-backports', 'g++', '@core']);
  assert.deepEqual(parsePackages(undefined), []);
});

test('-a: a name that is not a package name is refused before anything starts (shell syntax, options, spaces)', () => {
  for (const bad of ['vim;touch /tmp/pwned', 'vim && reboot', '$(id)', '`id`', '-oAPT::Get::AllowUnauthenticated=1', 'two words', "it's", 'a|b', 'a>b', 'x\ny', '.hidden', 'x'.repeat(201)]) {
    assert.throws(() => parsePackages(`apache2,${bad}`), (e) => isStratusError(e, 'USAGE') && e.message === `-a/--packages: ${JSON.stringify(bad)} is not a package name`, bad);
  }
});

test('--extra-os-repos: URL, or URL SUITE COMPONENT… for apt; anything a shell or a repository file would read as syntax is refused', () => {
  assert.deepEqual(parseRepos('http://deb.example.org/debian bookworm main contrib, https://rpm.example.org/el9/$basearch/'), [
    { url: 'http://deb.example.org/debian', words: ['bookworm', 'main', 'contrib'] },
    { url: 'https://rpm.example.org/el9/$basearch/', words: [] },
  ]);
  for (const bad of ['file:///etc/passwd', 'deb.example.org/debian', "http://x.org/'a'", 'http://x.org/`id`', 'http://x.org/a"b', 'http://x.org/a\\b']) {
    assert.throws(() => parseRepos(bad), (e) => isStratusError(e, 'USAGE') && /is not an http, https or ftp URL/.test(e.message), bad);
  }
  assert.throws(() => parseRepos('http://deb.example.org/debian bookworm;reboot'), (e) => isStratusError(e, 'USAGE') && e.message === '--extra-os-repos: "bookworm;reboot" (after http://deb.example.org/debian) is not a suite or component name');
});

test('repository files of §3: apt appends a deb line to sources.list.d/<host>.list; yum writes yum.repos.d/<host>-<i>.repo', () => {
  const repos = parseRepos('http://deb.example.org/debian bookworm main,http://deb.example.org/extra stable');
  assert.deepEqual(repoFiles('apt', repos), [
    { path: '/etc/apt/sources.list.d/deb.example.org.list', content: 'deb [trusted=yes] http://deb.example.org/debian bookworm main\n', append: true },
    { path: '/etc/apt/sources.list.d/deb.example.org.list', content: 'deb [trusted=yes] http://deb.example.org/extra stable\n', append: true },
  ]);
  assert.deepEqual(repoFiles('yum', parseRepos('http://rpm.example.org/el9/,https://[fd00::1]:8080/r/')), [
    { path: '/etc/yum.repos.d/rpm.example.org-0.repo', content: '[rpm.example.org-0]\nname=rpm.example.org-0\nbaseurl=http://rpm.example.org/el9/\ngpgcheck=0\nenabled=1\n', append: false },
    { path: '/etc/yum.repos.d/_fd00__1_-1.repo', content: '[_fd00__1_-1]\nname=_fd00__1_-1\nbaseurl=https://[fd00::1]:8080/r/\ngpgcheck=0\nenabled=1\n', append: false },
  ]);
  assert.throws(() => repoFiles('dnf', repos), (e) => isStratusError(e, 'USAGE') && /dnf takes a base URL only/.test(e.message));
});

test('the package step\'s command lines (§3 step 11): apt update then install; yum/dnf update then --nogpgcheck install', () => {
  const shown = (cs: GuestCommand[]): string[] => cs.map((c) => c.shown);
  const apt = packageCommands('apt', ['apache2', 'chkconfig'], []);
  assert.deepEqual(shown(apt), [
    'DEBIAN_FRONTEND=noninteractive apt-get update (unless the index a booted base fetched is still the archive\'s)',
    'DEBIAN_FRONTEND=noninteractive apt-get -y --allow-downgrades --allow-change-held-packages install apache2 chkconfig (the services it enables started at its end)',
  ]);
  assert.equal(apt[0]?.run, aptUpdateUnlessCurrent());
  assert.match(apt[0]?.run ?? '', /else DEBIAN_FRONTEND=noninteractive apt-get update; fi$/);
  assert.equal(apt[1]?.run, withServicesDeferred('DEBIAN_FRONTEND=noninteractive apt-get -y --allow-downgrades --allow-change-held-packages install apache2 chkconfig'));
  assert.deepEqual(shown(packageCommands('yum', ['httpd'], [])), ['yum -y update', 'yum -y --nogpgcheck install httpd']);
  assert.deepEqual(shown(packageCommands('dnf', ['httpd', 'g++'], [])), ['dnf -y update', 'dnf -y --nogpgcheck install httpd g++']);
  assert.deepEqual(shown(packageCommands('apt', [], parseRepos('http://deb.example.org/debian bookworm main'))).slice(0, 1), [
    `printf '%s' 'deb [trusted=yes] http://deb.example.org/debian bookworm main\n' >> /etc/apt/sources.list.d/deb.example.org.list`,
  ]);
  // Nothing of the package proxy's configuration is written.
  for (const c of packageCommands('apt', ['x'], parseRepos('http://a.org/d s c'))) assert.doesNotMatch(c.run, /apt\.conf|Proxy/);
});

test('the repository file commands write exactly the file\'s text when a shell runs them ($basearch stays as it is)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'repo-'));
  try {
    for (const f of repoFiles('yum', parseRepos('https://rpm.example.org/el9/$basearch/'))) {
      const local = { ...f, path: join(dir, 'x.repo') };
      execFileSync('sh', ['-c', writeFileCommand(local)]);
      execFileSync('sh', ['-c', writeFileCommand(local)]);
      assert.equal(readFileSync(local.path, 'utf8'), f.content, 'written whole, not appended');
    }
    const [apt] = repoFiles('apt', parseRepos('http://deb.example.org/debian bookworm main'));
    const local = { ...apt!, path: join(dir, 'x.list') };
    execFileSync('sh', ['-c', writeFileCommand(local)]);
    execFileSync('sh', ['-c', writeFileCommand(local)]);
    assert.equal(readFileSync(local.path, 'utf8'), apt!.content.repeat(2), 'appended');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
