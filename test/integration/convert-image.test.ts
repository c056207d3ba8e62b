/**
 * Issue 11, Done when: stratus-convert-image. A VDI, a VMDK and a VHD made by qemu-img from the
 * ttylinux base image (the VHD with force_size, or qemu-img rounds it up to a CHS geometry) convert back to the base image's own identifier; a qcow2 whose backing
 * file is /etc/passwd and a VMDK whose descriptor names a host file are refused, with the
 * reason, and leave no output behind. The input format is never guessed: a VDI named .img is
 * refused too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, ok } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { recipeImage } from '../helpers/vm.js';

const dir = tempDir();
const base = await recipeImage('ttylinux');

test('a VDI, a VMDK (sparse and stream-optimized) and a VHD made from ttylinux convert back to its identifier', async () => {
  for (const [file, format, options] of [['t.vdi', 'vdi', []], ['t.vmdk', 'vmdk', []], ['s.vmdk', 'vmdk', ['-o', 'subformat=streamOptimized']], ['t.vhd', 'vpc', ['-o', 'force_size=on']], ['t.vhdx', 'vhdx', []]] as const) {
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', format, ...options, base.path, join(dir, file)]);
    const out = join(dir, `${file}.img`);
    const r = JSON.parse(ok(await runCli(['convert-image', '--json', '--identifier', join(dir, file), out], { cwd: dir })).stdout) as { identifier: string; bytes: number; input: { format: string } };
    assert.equal(r.identifier, base.identifier, file);
    assert.equal(r.input.format, format, file);
    assert.equal(r.bytes, statSync(base.path).size, file);
    // sparse: far fewer blocks than bytes
    assert.ok(statSync(out).blocks * 512 < statSync(out).size / 2, `${file}: the raw output is sparse`);
  }
  const gz = ok(await runCli(['convert-image', '--identifier', join(dir, 't.vdi'), join(dir, 'tty.img.gz')], { cwd: dir })).stdout;
  assert.match(gz, new RegExp(`Identifier: ${base.identifier}`));
  assert.equal(execFileSync('sh', ['-c', `gzip -dc '${join(dir, 'tty.img.gz')}' | sha1sum`], { encoding: 'utf8' }).split(' ')[0], execFileSync('sha1sum', [base.path], { encoding: 'utf8' }).split(' ')[0]);
  const q = ok(await runCli(['convert-image', join(dir, 't.vhd'), join(dir, 'tty.qcow2')], { cwd: dir })).stdout;
  assert.match(q, /\(qcow2, /);
  execFileSync('qemu-img', ['compare', '-f', 'qcow2', '-F', 'raw', join(dir, 'tty.qcow2'), base.path]);
});

const refusedWith = async (input: string, pattern: RegExp): Promise<void> => {
  const before = readdirSync(dir).length;
  const r = await runCli(['convert-image', input, join(dir, 'never.img')], { cwd: dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, pattern);
  assert.ok(!existsSync(join(dir, 'never.img')));
  assert.equal(readdirSync(dir).length, before, 'no partial output left');
};

test('a qcow2 whose backing file is /etc/passwd is refused', async () => {
  const evil = join(dir, 'evil.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', '/etc/passwd', '-F', 'raw', '-u', evil, '1G']);
  await refusedWith(evil, /\[ERROR\] .*evil\.qcow2: a qcow2 with a backing file \("\/etc\/passwd"\).*refused/);
});

test('a VMDK whose descriptor names a host file is refused', async () => {
  const desc = join(dir, 'host.vmdk');
  writeFileSync(desc, '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 2048 FLAT "/etc/shadow" 0\n');
  await refusedWith(desc, /a VMDK descriptor file, which names its data in other files of this host: refused/);
});

test('a VDI named .img is refused: the format comes from the header, and they must agree', async () => {
  execFileSync('cp', [join(dir, 't.vdi'), join(dir, 'vdi-named.img')]);
  await refusedWith(join(dir, 'vdi-named.img'), /the name says raw \(\.img\) but the header is VDI \(dynamic\)/);
});

test('a disk over --max-size, an existing output and a missing input are clear errors', async () => {
  await refusedWith(join(dir, 'nothing.vdi'), /cannot read .*nothing\.vdi: no such file/);
  const big = await runCli(['convert-image', '--max-size', '0.05', join(dir, 't.vdi'), join(dir, 'big.img')], { cwd: dir });
  assert.equal(big.code, 1);
  assert.match(big.stderr, /declares a 0\.125 GiB disk, more than the 0\.050 GiB allowed/);
  const exists = await runCli(['convert-image', join(dir, 't.vdi'), join(dir, 't.vmdk')], { cwd: dir });
  assert.equal(exists.code, 1);
  assert.match(exists.stderr, /t\.vmdk exists/);
});
