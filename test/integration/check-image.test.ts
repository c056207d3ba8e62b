/**
 * Issue 11, Done when (the audit, §2): both base images pass stratus-check-image (nothing
 * flagged, exit 0), and a doctored copy of debian-12 with each planted
 * problem is flagged for that problem, at its path, and --sysprep clears the problems it can
 * (§3). The problems are planted with debugfs -w: no mount, as the audit itself reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
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

test('both base images pass: nothing flagged, exit 0 (ttylinux\'s firewall is loaded by its rcS), in well under 3 s', async () => {
  const debian = await recipeImage('debian-12');
  const t0 = Date.now();
  const d = await audit(debian.path);
  const seconds = (Date.now() - t0) / 1000;
  assert.equal(d.code, 0, JSON.stringify(d.report.findings.filter((f) => f.severity !== 'info'), null, 1));
  assert.ok(seconds < 3, `the audit of debian-12 took ${seconds} s`);
  const checks = new Set(d.report.findings.map((f) => f.check));
  for (const c of ['context', 'dhcp', 'ssh', 'firewall', 'services']) assert.ok(checks.has(c), `debian-12 reports ${c}`);

  const tty = await audit((await recipeImage('ttylinux')).path);
  assert.deepEqual(tty.report.findings.filter((f) => f.severity !== 'info'), []);
  assert.ok(tty.report.findings.some((f) => f.check === 'firewall' && /nftables at boot \(\/etc\/init\.d\/rcS\), inbound policy drop/.test(f.message)));
  assert.equal(tty.code, 0);
});

const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

/** A copy of debian-12 with each of the checklist's problems planted by debugfs -w (with `sshd`: sshd taking passwords too, which no sysprep fixes). */
async function doctored(name: string, sshd: boolean): Promise<{ image: string; offset: number }> {
  const debian = await recipeImage('debian-12');
  const image = join(dir, name);
  execFileSync('cp', ['--sparse=always', debian.path, image]);
  const offset = rootFileSystem(image);
  const shadow = execFileSync('debugfs', ['-R', 'cat /etc/shadow', `${image}?offset=${offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .replace(/^root:[^:]*:/m, 'root:$6$salt$0123456789abcdefghijklmnopqrstuvwxyz:');
  assert.match(shadow, /^root:\$6\$/m);
  const commands = [
    `write ${file('rules', 'SUBSYSTEM=="net", ATTR{address}=="52:54:00:12:34:56", NAME="eth0"\n')} /etc/udev/rules.d/70-persistent-net.rules`,
    `write ${file('hostkey', '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n')} /etc/ssh/ssh_host_ed25519_key`,
    `write ${file('hostkey.pub', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey root@maker\n')} /etc/ssh/ssh_host_ed25519_key.pub`,
    'mkdir /root/.ssh',
    `write ${file('ak', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyOfTheMaker maker@example.org\n')} /root/.ssh/authorized_keys`,
    `write ${file('idrsa', '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n')} /root/.ssh/id_rsa`,
    `write ${file('idrsa.pub', 'ssh-rsa AAAAB3Nza maker@example.org\n')} /root/.ssh/id_rsa.pub`,
    `write ${file('hist', 'mysql -u root -psecret\n')} /root/.bash_history`,
    'rm /etc/machine-id',
    `write ${file('mid', '0123456789abcdef0123456789abcdef\n')} /etc/machine-id`,
    'sif /etc/machine-id mode 0100444',
    'rm /etc/shadow',
    `write ${file('shadow', shadow)} /etc/shadow`,
    'sif /etc/shadow mode 0100640', 'sif /etc/shadow gid 42',
    'mkdir /var/lib/cloud', 'mkdir /var/lib/cloud/instances', 'mkdir /var/lib/cloud/instances/iid-dsopennebula',
    'mkdir /var/lib/cloud/instances/iid-dsopennebula/sem', `write ${file('sem', 'done\n')} /var/lib/cloud/instances/iid-dsopennebula/sem/config_ssh`,
    'symlink /var/lib/cloud/instance /var/lib/cloud/instances/iid-dsopennebula',
    'mkdir /var/lib/cloud/seed', 'mkdir /var/lib/cloud/seed/nocloud', `write ${file('ud', '#cloud-config\n')} /var/lib/cloud/seed/nocloud/user-data`,
    ...(sshd ? [`write ${file('pw', 'PasswordAuthentication yes\nPermitRootLogin yes\n')} /etc/ssh/sshd_config.d/00-maker.conf`] : []),
  ];
  execFileSync('debugfs', ['-w', '-f', file(`${name}.commands`, commands.join('\n') + '\n'), `${image}?offset=${offset}`], { stdio: 'ignore' });
  return { image, offset };
}

const debugfs = (image: string, offset: number, command: string): string =>
  execFileSync('debugfs', ['-R', command, `${image}?offset=${offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

test('a doctored debian-12 is flagged for each planted problem, at its path; the exit status is 4', async () => {
  const { image } = await doctored('doctored.img', true);
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
  assert.equal((await audit(gz)).code, 0);
  const q = join(dir, 'tty.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', tty, q]);
  assert.equal((await audit(q)).code, 0);
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

test('--sysprep clears every problem it can in a copy (secrets removed, passwords locked with the shadow file\'s mode and group kept, machine-id emptied, cloud-init state gone but its seed); the image is untouched and the copy\'s file system is sound', async () => {
  const { image, offset } = await doctored('to-clean.img', false);
  const before = execFileSync('sha1sum', [image], { encoding: 'utf8' });
  const r = await runCli(['check-image', '--json', '--sysprep', join(dir, 'clean.qcow2'), '--identifier', image], { cwd: dir });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const result = JSON.parse(r.stdout) as Report & { output: string; format: string; identifier: string; fixed: Report['findings'] };
  assert.deepEqual([result.format, result.worst, result.findings.filter((f) => f.severity !== 'info')], ['qcow2', 'info', []]);
  assert.deepEqual(result.fixed.map((f) => f.check).sort(), ['authorized-keys', 'cloud-state', 'history', 'host-keys', 'machine-id', 'net-rules', 'passwords', 'private-keys']);
  assert.equal(execFileSync('sha1sum', [image], { encoding: 'utf8' }), before, 'the image given is not changed');

  const raw = join(dir, 'clean.raw');
  execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', result.output, raw]);
  assert.match(execFileSync('sha1sum', [raw], { encoding: 'utf8' }), /^[0-9a-f]{40}/);
  const names = (d: string): string[] => [...debugfs(raw, offset, `ls -p ${d}`).matchAll(/^\/\d+\/\d+\/\d+\/\d+\/(.*)\/\d*\/$/gm)]
    .map((m) => m[1] as string).filter((n) => n !== '.' && n !== '..');
  const ls = (d: string): string => names(d).join(' ') + ' ';
  assert.doesNotMatch(ls('/etc/ssh'), /ssh_host_/);
  assert.doesNotMatch(ls('/root/.ssh'), /authorized_keys|id_rsa /);
  assert.match(ls('/root/.ssh'), /id_rsa\.pub/, 'a public key is no secret: kept');
  assert.doesNotMatch(ls('/root'), /bash_history/);
  assert.doesNotMatch(ls('/etc/udev/rules.d'), /persistent-net/);
  assert.deepEqual(names('/var/lib/cloud'), ['seed']);
  assert.match(ls('/var/lib/cloud/seed/nocloud'), /user-data/);
  const shadow = debugfs(raw, offset, 'cat /etc/shadow');
  assert.match(shadow, /^root:!:/m);
  assert.doesNotMatch(shadow, /\$6\$/);
  assert.match(debugfs(raw, offset, 'stat /etc/shadow'), /Mode:\s+0640[\s\S]*Group:\s+42\b/);
  assert.match(debugfs(raw, offset, 'stat /etc/machine-id'), /Mode:\s+0444[\s\S]*Size: 0\b/);
  const part = join(dir, 'clean-root.raw');
  execFileSync('dd', [`if=${raw}`, `of=${part}`, 'bs=512', `skip=${offset / 512}`, 'conv=sparse', 'status=none']);
  execFileSync('e2fsck', ['-fn', part], { stdio: 'ignore' });

  // The same image, as a gzip'ed raw this time, audits clean as a file of its own.
  const gz = await runCli(['check-image', '--sysprep', join(dir, 'clean.img.gz'), image], { cwd: dir });
  assert.equal(gz.code, 0, gz.stdout + gz.stderr);
  assert.match(gz.stdout, /\[fixed\] host-keys: \/etc\/ssh\/ssh_host_ed25519_key\n[\s\S]*Cleaned .*to-clean\.img into .*clean\.img\.gz \(raw, gzip, [\d.]+ MiB\): 8 problem\(s\) fixed/);
  assert.equal((await audit(join(dir, 'clean.img.gz'))).code, 0);
});

test('--sysprep refuses an image with a problem only its maker can fix (sshd taking passwords), writing nothing; --allow-unfixable writes the copy with that problem left', async () => {
  const { image } = await doctored('sshd.img', true);
  const out = join(dir, 'sshd-clean.img');
  const r = await runCli(['check-image', '--sysprep', out, image], { cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /2 problem\(s\) cannot be fixed offline, so no cleaned copy was written:\n {2}error ssh \(\/etc\/ssh\/sshd_config\): sshd takes passwords/);
  assert.match(r.stderr, /hint: Fix them in the image .* or give --allow-unfixable/);
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.part')), [], 'no temporary file left');

  const anyway = await runCli(['check-image', '--json', '--allow-unfixable', '--sysprep', out, image], { cwd: dir });
  assert.equal(anyway.code, 4);
  const left = (JSON.parse(anyway.stdout) as Report).findings.filter((f) => f.severity !== 'info');
  assert.deepEqual(left.map((f) => f.check), ['ssh', 'ssh']);
  const exists = await runCli(['check-image', '--allow-unfixable', '--sysprep', out, image], { cwd: dir });
  assert.equal(exists.code, 1);
  assert.match(exists.stderr, /sshd-clean\.img exists\n {2}hint: Give another output file, or --force/);
  const itself = await runCli(['check-image', '--force', '--allow-unfixable', '--sysprep', image, image], { cwd: dir });
  assert.equal(itself.code, 1);
  assert.match(itself.stderr, /sshd\.img is the image itself, which --sysprep never changes/);
  const misuse = await runCli(['check-image', '--force', image], { cwd: dir });
  assert.equal(misuse.code, 1);
  assert.match(misuse.stderr, /--force goes with --sysprep <output>/);
});
