import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStratusError } from '../domain/errors.js';
import { checkExtension, readDiskHeader } from './disk-format.js';

const dir = mkdtempSync(join(tmpdir(), 'stratus-disk-format-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const MIB = 1024 * 1024;

function made(name: string, format: string, options: string[] = [], size = '64M'): string {
  const path = join(dir, name);
  execFileSync('qemu-img', ['create', '-q', '-f', format, ...options, path, size]);
  return path;
}

const refused = (path: string, pattern: RegExp): void => {
  assert.throws(() => readDiskHeader(path), (e) => isStratusError(e, 'IMAGE_UNSAFE') && pattern.test(e.message), path);
};

test('each format qemu-img writes is told from its header, with the size it declares', () => {
  const cases: Array<[string, string, string[], string, string]> = [
    ['d.vdi', 'vdi', [], 'vdi', 'VDI (dynamic)'],
    ['f.vdi', 'vdi', ['-o', 'static=on'], 'vdi', 'VDI (fixed)'],
    ['s.vmdk', 'vmdk', [], 'vmdk', 'VMDK (monolithic sparse)'],
    ['o.vmdk', 'vmdk', ['-o', 'subformat=streamOptimized'], 'vmdk', 'VMDK (stream-optimized)'],
    ['d.vhd', 'vpc', [], 'vpc', 'VHD (dynamic)'],
    ['f.vhd', 'vpc', ['-o', 'subformat=fixed'], 'vpc', 'VHD (fixed)'],
    ['d.vhdx', 'vhdx', [], 'vhdx', 'VHDX'],
    ['d.qcow2', 'qcow2', [], 'qcow2', 'qcow2 (version 3)'],
    ['v2.qcow2', 'qcow2', ['-o', 'compat=0.10'], 'qcow2', 'qcow2 (version 2)'],
    ['d.img', 'raw', [], 'raw', 'raw'],
  ];
  for (const [name, format, options, want, kind] of cases) {
    const path = made(name, format, options);
    // qemu-img's own reading of the size (a VHD's is rounded to its CHS geometry).
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', '-f', format, path], { encoding: 'utf8' })) as { 'virtual-size': number };
    assert.deepEqual(readDiskHeader(path), { format: want, kind, virtualBytes: info['virtual-size'] }, name);
    assert.ok(Math.abs(info['virtual-size'] - 64 * MIB) < MIB, name);
  }
});

test('a qcow2 whose backing file is /etc/passwd is refused before qemu-img opens it', () => {
  refused(made('b.qcow2', 'qcow2', ['-b', '/etc/passwd', '-F', 'raw', '-u']), /backing file \("\/etc\/passwd"\)/);
  refused(made('b2.qcow2', 'qcow2', ['-o', 'compat=0.10', '-b', '/etc/passwd', '-F', 'raw', '-u']), /backing file/);
});

test('a qcow2 with an external data file is refused', () => {
  refused(made('x.qcow2', 'qcow2', ['-o', `data_file=${join(dir, 'x.data')}`]), /external data file/);
});

test('a VMDK descriptor naming host files is refused, and so are split and flat VMDKs', () => {
  const descriptor = join(dir, 'host.vmdk');
  writeFileSync(descriptor, '# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 4096 FLAT "/etc/shadow" 0\n');
  refused(descriptor, /VMDK descriptor file/);
  refused(made('flat.vmdk', 'vmdk', ['-o', 'subformat=monolithicFlat']), /VMDK descriptor file/);
  refused(made('split.vmdk', 'vmdk', ['-o', 'subformat=twoGbMaxExtentSparse'], '3G'), /VMDK descriptor file/);
});

test('a monolithic VMDK whose embedded descriptor names another extent or a parent is refused', () => {
  const path = made('planted.vmdk', 'vmdk');
  const bytes = readFileSync(path);
  const at = bytes.indexOf('RW ');
  const line = bytes.subarray(at, bytes.indexOf('\n', at)).toString('latin1');
  const planted = `RW 1 FLAT "/etc/shadow" 0`.padEnd(line.length, ' ');
  writeFileSync(path, Buffer.concat([bytes.subarray(0, at), Buffer.from(planted, 'latin1'), bytes.subarray(at + line.length)]));
  refused(path, /extent is FLAT/);

  const delta = made('delta.vmdk', 'vmdk');
  const d = readFileSync(delta);
  const p = d.indexOf('parentCID=ffffffff');
  d.write('parentCID=12345678', p, 'latin1');
  writeFileSync(delta, d);
  refused(delta, /delta disk/);
});

test('differencing VDI and VHD disks are refused (their parents are host files)', () => {
  const vdi = made('diff.vdi', 'vdi');
  const v = readFileSync(vdi);
  v.writeUInt32LE(4, 0x4c);
  writeFileSync(vdi, v);
  refused(vdi, /differencing disk/);

  const vhd = made('diff.vhd', 'vpc', ['-o', 'subformat=fixed']);
  const h = readFileSync(vhd);
  h.writeUInt32BE(4, h.length - 512 + 60);
  writeFileSync(vhd, h);
  refused(vhd, /differencing VHD/);
});

test('a header whose format its name denies is refused; a name with no known extension is not', () => {
  const q = made('looks-raw.img', 'qcow2');
  assert.throws(() => checkExtension(q, readDiskHeader(q)), (e) => isStratusError(e, 'IMAGE_UNSAFE') && /name says raw \(\.img\) but the header is qcow2/.test(e.message));
  const v = made('disk.vdi.gz-less', 'vdi');
  checkExtension(v, readDiskHeader(v));
  const ok = made('fine.vmdk', 'vmdk');
  checkExtension(ok, readDiskHeader(ok));
});

test('an empty file, a missing file and a directory are clear errors', () => {
  writeFileSync(join(dir, 'empty.img'), '');
  assert.throws(() => readDiskHeader(join(dir, 'empty.img')), /empty/);
  assert.throws(() => readDiskHeader(join(dir, 'none.img')), (e) => isStratusError(e, 'USAGE') && /no such file/.test(e.message));
  assert.throws(() => readDiskHeader(dir), /not a regular file/);
});
