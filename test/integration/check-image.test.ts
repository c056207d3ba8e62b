/**
 * Issue 11, Done when (the audit, §2): both base images pass stratus-check-image (no error;
 * ttylinux has no firewall, a warning), and a doctored copy of debian-12 with each planted
 * problem is flagged for that problem, at its path. The problems are planted with debugfs -w:
 * no mount, as the audit itself reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { recipeImage } from '../helpers/vm.js';
import { rootFileSystem } from '../../src/images/audit/index.js';
import { DebugfsView } from '../../src/images/audit/fs-view.js';

const dir = tempDir();

interface Report { worst: string; findings: Array<{ severity: string; check: string; path: string; message: string; fixable: boolean }> }

async function audit(image: string): Promise<{ code: number; report: Report }> {
  const r = await runCli(['check-image', '--json', image], { cwd: dir });
  assert.ok(r.stdout.trim().startsWith('{'), r.stdout + r.stderr);
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

test('both base images pass: no errors (ttylinux warns that no firewall starts at boot), in well under 3 s', async () => {
  const debian = await recipeImage('debian-12');
  const t0 = Date.now();
  const d = await audit(debian.path);
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(d.code, 0, JSON.stringify(d.report.findings.filter((f) => f.severity !== 'info'), null, 1));
  assert.ok(seconds < 3, `the audit of debian-12 took ${seconds} s`);
  const checks = new Set(d.report.findings.map((f) => f.check));
  for (const c of ['context', 'dhcp', 'ssh', 'firewall', 'services']) assert.ok(checks.has(c), `debian-12 reports ${c}`);

  const tty = await audit((await recipeImage('ttylinux')).path);
  assert.equal(tty.report.findings.filter((f) => f.severity === 'error').length, 0, JSON.stringify(tty.report.findings, null, 1));
  assert.deepEqual(tty.report.findings.filter((f) => f.severity === 'warning').map((f) => f.check), ['firewall']);
  assert.equal(tty.code, 3);
});

test('a doctored debian-12 is flagged for each planted problem, at its path; the exit status is 4', async () => {
  const debian = await recipeImage('debian-12');
  const image = join(dir, 'doctored.img');
  execFileSync('cp', ['--sparse=always', debian.path, image]);
  const offset = rootFileSystem(image);
  const file = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const shadow = execFileSync('debugfs', ['-R', 'cat /etc/shadow', `${image}?offset=${offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .replace(/^root:[^:]*:/m, 'root:$6$salt$0123456789abcdefghijklmnopqrstuvwxyz:');
  const commands = [
    `write ${file('rules', 'SUBSYSTEM=="net", ATTR{address}=="52:54:00:12:34:56", NAME="eth0"\n')} /etc/udev/rules.d/70-persistent-net.rules`,
    `write ${file('hostkey', '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n')} /etc/ssh/ssh_host_ed25519_key`,
    'mkdir /root/.ssh',
    `write ${file('ak', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyOfTheMaker maker@example.org\n')} /root/.ssh/authorized_keys`,
    `write ${file('idrsa', '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n')} /root/.ssh/id_rsa`,
    `write ${file('hist', 'mysql -u root -psecret\n')} /root/.bash_history`,
    'rm /etc/machine-id',
    `write ${file('mid', '0123456789abcdef0123456789abcdef\n')} /etc/machine-id`,
    'rm /etc/shadow',
    `write ${file('shadow', shadow)} /etc/shadow`,
    'mkdir /var/lib/cloud', 'mkdir /var/lib/cloud/instances', 'mkdir /var/lib/cloud/instances/iid-dsopennebula',
    `write ${file('pw', 'PasswordAuthentication yes\nPermitRootLogin yes\n')} /etc/ssh/sshd_config.d/00-maker.conf`,
  ];
  execFileSync('debugfs', ['-w', '-f', file('commands', commands.join('\n') + '\n'), `${image}?offset=${offset}`], { stdio: 'ignore' });
  assert.match(readFileSync(join(dir, 'shadow'), 'utf8'), /^root:\$6\$/m);

  const { code, report } = await audit(image);
  assert.equal(code, 4);
  const flagged = (check: string, path: string, severity: string, message: RegExp): void => {
    assert.ok(report.findings.some((f) => f.check === check && f.path === path && f.severity === severity && message.test(f.message)),
      `${check} at ${path} (${severity}) in ${JSON.stringify(report.findings.filter((f) => f.severity !== 'info'), null, 1)}`);
  };
  flagged('net-rules', '/etc/udev/rules.d/70-persistent-net.rules', 'error', /persistent-net/);
  flagged('host-keys', '/etc/ssh/ssh_host_ed25519_key', 'error', /host private key/);
  flagged('authorized-keys', '/root/.ssh/authorized_keys', 'error', /authorized SSH keys/);
  flagged('private-keys', '/root/.ssh/id_rsa', 'error', /private key/);
  flagged('history', '/root/.bash_history', 'warning', /shell history/);
  flagged('machine-id', '/etc/machine-id', 'warning', /machine-id \(01234567…\)/);
  flagged('passwords', '/etc/shadow', 'error', /account root has a password/);
  flagged('cloud-state', '/var/lib/cloud/instances', 'warning', /iid-dsopennebula/);
  flagged('ssh', '/etc/ssh/sshd_config', 'error', /PasswordAuthentication yes/);
  flagged('ssh', '/etc/ssh/sshd_config', 'error', /PermitRootLogin yes/);

  const text = await runCli(['check-image', image], { cwd: dir });
  assert.equal(text.code, 4);
  assert.match(text.stdout, /\[ERROR\] host-keys: an SSH host private key: every VM of the image would share it\n {6}\/etc\/ssh\/ssh_host_ed25519_key\n {6}fix: .*\(--sysprep can\)/);
  const count = (s: string): number => report.findings.filter((f) => f.severity === s).length;
  assert.equal(count('warning'), 3);
  assert.match(text.stdout, new RegExp(`doctored\\.img: ${count('error')} error\\(s\\), 3 warning\\(s\\)`));
});

test('a gzip\'ed and a qcow2 copy are audited too; a VDI is sent to stratus-convert-image; a missing file is a clear error', async () => {
  const tty = (await recipeImage('ttylinux')).path;
  const gz = join(dir, 'tty.img.gz');
  execFileSync('sh', ['-c', `gzip -c '${tty}' > '${gz}'`]);
  assert.equal((await audit(gz)).code, 3);
  const q = join(dir, 'tty.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', tty, q]);
  assert.equal((await audit(q)).code, 3);
  const vdi = join(dir, 'tty.vdi');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', tty, vdi]);
  const r = await runCli(['check-image', vdi], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is VDI \(dynamic\): stratus-check-image reads raw, qcow2 and gzip'ed images\n {2}hint: Convert it first: stratus-convert-image/);
  const missing = await runCli(['check-image', join(dir, 'none.img')], { cwd: dir });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no such file/);
});

test('regression: a listing stays whole when another directory of the batch is missing (debugfs\'s stderr was mixed into its stdout, cutting lines)', async () => {
  const debian = (await recipeImage('debian-12')).path;
  const view = new DebugfsView(debian, rootFileSystem(debian));
  const dirs = ['/nonexistent-a', '/etc/systemd/system/sysinit.target.wants', '/nonexistent-b', '/etc/ssh', '/nonexistent-c', '/etc/systemd/system/multi-user.target.wants'];
  const first = await view.list(dirs);
  assert.ok(first.get('/etc/systemd/system/sysinit.target.wants')?.some((e) => e.name === 'nftables.service'));
  assert.equal(first.get('/nonexistent-b'), undefined);
  for (let i = 0; i < 15; i++) assert.deepEqual(await view.list(dirs), first, `run ${i + 2}`);
});
