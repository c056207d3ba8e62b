import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { StratusError } from '../domain/errors.js';

/**
 * Our own reading of a foreign disk's header: which format it is, how big a disk it declares,
 * and whether it stands alone. qemu-img is then always told the format (-f): a format it is
 * left to guess can be chosen by whoever wrote the file (a raw disk whose first bytes are a
 * qcow2 header naming /etc/shadow as its backing file), and the files a header names (backing
 * files, external data files, a VMDK descriptor's extents, a VHD or VDI parent) would be read
 * from the converting host. All such images are refused here, before qemu-img opens them.
 * Only the headers are read: a few KiB, whatever the file's size.
 */

/** qemu-img's names for the formats stratus-convert-image takes. */
export type ForeignFormat = 'raw' | 'qcow2' | 'vdi' | 'vmdk' | 'vpc' | 'vhdx';

export interface DiskHeader {
  format: ForeignFormat;
  /** What the header calls the format, for messages: "VDI (dynamic)", "VMDK (stream-optimized)". */
  kind: string;
  /** The disk's size as the guest sees it. */
  virtualBytes: number;
}

/** The file extensions each format's files carry (what a user names them). */
export const FORMAT_EXTENSIONS: Readonly<Record<ForeignFormat, readonly string[]>> = {
  raw: ['img', 'raw', 'dd', 'bin'],
  qcow2: ['qcow2', 'qcow', 'qcow2c'],
  vdi: ['vdi'],
  vmdk: ['vmdk'],
  vpc: ['vhd', 'vpc'],
  vhdx: ['vhdx'],
};

const QCOW2_MAGIC = 0x514649fb;
const VDI_SIGNATURE = 0xbeda107f;
const VHDX_PARENT_LOCATOR = 'a8d35f2d-b30b-454d-abf7-d3d84834ab0c';
const VHDX_FILE_PARAMETERS = 'caa16737-fa36-4d43-b3b6-33f0aa44e76b';
const VHDX_VIRTUAL_DISK_SIZE = '2fa54224-cd1b-4876-b211-5dbed83bf4b8';

function unsafe(path: string, what: string, hint?: string): StratusError {
  return new StratusError('IMAGE_UNSAFE', `${path}: ${what}: refused`, {
    hint: hint ?? 'Convert only self-contained disks: merge snapshots and differencing disks into one file in the tool that made them first.',
  });
}

function unreadable(path: string, what: string): StratusError {
  return new StratusError('IMAGE_NOT_READABLE', `${path}: ${what}`, { hint: 'Check that the file is the whole disk image, copied completely.' });
}

/** Reads `length` bytes at `offset` (fewer at the end of the file). */
class Reader {
  constructor(private readonly fd: number, readonly size: number) {}

  at(offset: number, length: number): Buffer {
    const buf = Buffer.alloc(Math.max(0, Math.min(length, this.size - offset)));
    if (buf.length > 0) readSync(this.fd, buf, 0, buf.length, offset);
    return buf;
  }
}

/** Opens an image file for reading, or says plainly why it cannot be read. */
export function openImage(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new StratusError('USAGE', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** Reads the header of `path` and says what the disk is, or refuses it with the reason. */
export function readDiskHeader(path: string): DiskHeader {
  const fd = openImage(path);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new StratusError('USAGE', `${path} is not a regular file`);
    const r = new Reader(fd, st.size);
    const head = r.at(0, 512);
    if (head.length >= 4 && head.readUInt32BE(0) === QCOW2_MAGIC) return qcow2(path, r);
    if (head.length >= 0x48 && head.readUInt32LE(0x40) === VDI_SIGNATURE) return vdi(path, r);
    if (head.subarray(0, 4).toString('latin1') === 'KDMV') return vmdkSparse(path, r);
    if (head.subarray(0, 8).toString('latin1') === 'vhdxfile') return vhdx(path, r);
    if (head.subarray(0, 8).toString('latin1') === 'conectix') return vhd(path, r, 0);
    if (/^\s*#\s*Disk DescriptorFile/i.test(head.toString('latin1'))) {
      throw unsafe(path, 'a VMDK descriptor file, which names its data in other files of this host',
        'Convert the disk to one monolithic file first (VBoxManage clonemedium --format VMDK --variant Standard, or vmware-vdiskmanager -r in.vmdk -t 0 out.vmdk).');
    }
    if (r.size >= 512 && r.at(r.size - 512, 8).toString('latin1') === 'conectix') return vhd(path, r, r.size - 512);
    if (r.size === 0) throw unreadable(path, 'the file is empty');
    return { format: 'raw', kind: 'raw', virtualBytes: r.size };
  } finally {
    closeSync(fd);
  }
}

function qcow2(path: string, r: Reader): DiskHeader {
  const h = r.at(0, 104);
  if (h.length < 72) throw unreadable(path, 'a truncated qcow2 header');
  const version = h.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw unreadable(path, `qcow2 version ${version} (2 or 3 are known)`);
  const backingOffset = Number(h.readBigUInt64BE(8));
  const backingSize = h.readUInt32BE(16);
  if (backingOffset !== 0 && backingSize > 0) {
    const name = r.at(backingOffset, Math.min(backingSize, 1024)).toString('utf8');
    throw unsafe(path, `a qcow2 with a backing file (${JSON.stringify(name)}), which qemu-img would read from this host`);
  }
  if (h.readUInt32BE(32) !== 0) throw unsafe(path, 'an encrypted qcow2', 'Decrypt it with qemu-img convert --object secret,… first.');
  if (version === 3) {
    if (h.length < 104) throw unreadable(path, 'a truncated qcow2 version 3 header');
    const incompatible = h.readBigUInt64BE(72);
    // bit 2: an external data file; the clusters live in a file the header names.
    if (incompatible & 4n) throw unsafe(path, 'a qcow2 whose data is in an external data file of this host');
    const headerLength = h.readUInt32BE(100);
    for (const ext of qcow2Extensions(r, headerLength)) {
      if (ext.type === 0x44415441) throw unsafe(path, `a qcow2 naming an external data file (${JSON.stringify(ext.data.toString('utf8'))})`);
    }
  }
  return { format: 'qcow2', kind: `qcow2 (version ${version})`, virtualBytes: Number(h.readBigUInt64BE(24)) };
}

/** qcow2 header extensions: type (u32), length (u32), data padded to 8 bytes, ended by type 0. */
function* qcow2Extensions(r: Reader, start: number): Generator<{ type: number; data: Buffer }> {
  let at = start;
  for (let n = 0; n < 64 && at + 8 <= Math.min(r.size, 65536); n++) {
    const h = r.at(at, 8);
    const type = h.readUInt32BE(0);
    const length = h.readUInt32BE(4);
    if (type === 0) return;
    yield { type, data: r.at(at + 8, Math.min(length, 4096)) };
    at += 8 + Math.ceil(length / 8) * 8;
  }
}

function vdi(path: string, r: Reader): DiskHeader {
  const h = r.at(0, 0x1c8);
  if (h.length < 0x1c8) throw unreadable(path, 'a truncated VDI header');
  const version = h.readUInt32LE(0x44);
  if (version >>> 16 !== 1) throw unreadable(path, `VDI version ${version >>> 16}.${version & 0xffff} (1.1 is known)`);
  const type = h.readUInt32LE(0x4c);
  const parent = h.subarray(0x1b8, 0x1c8);
  if (type === 4 || parent.some((b) => b !== 0)) {
    throw unsafe(path, 'a VirtualBox differencing disk (a snapshot), which needs its parent disk',
      'Merge the snapshot into one disk in VirtualBox (delete the snapshot, or VBoxManage clonemedium the current state) and convert that.');
  }
  const kinds: Record<number, string> = { 1: 'dynamic', 2: 'fixed' };
  const kind = kinds[type];
  if (!kind) throw unreadable(path, `VDI image type ${type} (1 dynamic and 2 fixed are known)`);
  return { format: 'vdi', kind: `VDI (${kind})`, virtualBytes: Number(h.readBigUInt64LE(0x170)) };
}

function vmdkSparse(path: string, r: Reader): DiskHeader {
  const h = r.at(0, 512);
  if (h.length < 79) throw unreadable(path, 'a truncated VMDK header');
  const capacitySectors = h.readBigUInt64LE(12);
  const descOffset = Number(h.readBigUInt64LE(28));
  const descSectors = Number(h.readBigUInt64LE(36));
  const compress = h.readUInt16LE(77);
  const kind = compress === 1 ? 'VMDK (stream-optimized)' : 'VMDK (monolithic sparse)';
  if (descOffset === 0 || descSectors === 0) throw unreadable(path, 'a VMDK extent with no embedded descriptor (part of a split disk)');
  const text = r.at(descOffset * 512, Math.min(descSectors * 512, 1 << 20)).toString('latin1').replace(/\0[\s\S]*$/, '');
  checkVmdkDescriptor(path, text);
  return { format: 'vmdk', kind, virtualBytes: Number(capacitySectors) * 512 };
}

/**
 * A monolithic VMDK's descriptor: one extent, the file itself (SPARSE in a monolithic sparse
 * file, no file name in some writers) and no parent. Anything naming another file is refused.
 */
export function checkVmdkDescriptor(path: string, text: string): void {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const parentCid = lines.find((l) => /^parentCID\s*=/i.test(l));
  if (parentCid && !/=\s*"?ffffffff"?$/i.test(parentCid)) throw unsafe(path, `a VMDK delta disk (${parentCid}), which needs its parent`);
  const hint = lines.find((l) => /^parentFileNameHint\s*=/i.test(l));
  if (hint) throw unsafe(path, `a VMDK naming a parent disk (${hint})`);
  const extents = lines.filter((l) => /^(RW|RDONLY|NOACCESS)\s/i.test(l));
  if (extents.length !== 1) throw unsafe(path, `a VMDK whose descriptor lists ${extents.length} extents (a split disk, or a disk made of other files)`);
  const m = /^(\S+)\s+(\d+)\s+(\S+)(?:\s+"([^"]*)")?/.exec(extents[0] as string);
  const type = (m?.[3] ?? '').toUpperCase();
  if (type !== 'SPARSE') throw unsafe(path, `a VMDK whose extent is ${type || 'unreadable'} (${extents[0] as string}): its data is in another file of this host`);
}

function vhd(path: string, r: Reader, footerAt: number): DiskHeader {
  const f = r.at(footerAt, 512);
  if (f.length < 512) throw unreadable(path, 'a truncated VHD footer');
  const type = f.readUInt32BE(60);
  if (type === 4) throw unsafe(path, 'a differencing VHD, which needs its parent disk', 'Merge it into its parent (Hyper-V: Edit Disk > Merge) and convert that.');
  const kinds: Record<number, string> = { 2: 'fixed', 3: 'dynamic' };
  const kind = kinds[type];
  if (!kind) throw unreadable(path, `VHD disk type ${type} (2 fixed and 3 dynamic are known)`);
  return { format: 'vpc', kind: `VHD (${kind})`, virtualBytes: Number(f.readBigUInt64BE(48)) };
}

/** A GUID as stored (little-endian first three fields), in its usual text form. */
function guid(b: Buffer): string {
  const hex = (x: Buffer): string => x.toString('hex');
  const le = (x: Buffer): string => hex(Buffer.from(x).reverse());
  return `${le(b.subarray(0, 4))}-${le(b.subarray(4, 6))}-${le(b.subarray(6, 8))}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
}

function vhdx(path: string, r: Reader): DiskHeader {
  // The region table at 192 KiB names the metadata region; its table holds the disk's size and
  // whether it has a parent (file parameters bit 1, or a parent locator item).
  const regions = r.at(192 * 1024, 64 * 1024);
  if (regions.length < 16 || regions.subarray(0, 4).toString('latin1') !== 'regi') throw unreadable(path, 'a VHDX without its region table');
  const count = Math.min(regions.readUInt32LE(8), 2047);
  let metadataAt: number | undefined;
  for (let i = 0; i < count; i++) {
    const e = regions.subarray(16 + i * 32, 48 + i * 32);
    if (e.length < 32) break;
    if (guid(e.subarray(0, 16)) === '8b7ca206-4790-4b9a-b8fe-575f050f886e') metadataAt = Number(e.readBigUInt64LE(16));
  }
  if (metadataAt === undefined) throw unreadable(path, 'a VHDX without a metadata region');
  const meta = r.at(metadataAt, 64 * 1024);
  if (meta.subarray(0, 8).toString('latin1') !== 'metadata') throw unreadable(path, 'a VHDX whose metadata table is missing');
  const entries = Math.min(meta.readUInt16LE(10), 2047);
  let virtualBytes: number | undefined;
  for (let i = 0; i < entries; i++) {
    const e = meta.subarray(32 + i * 32, 64 + i * 32);
    if (e.length < 32) break;
    const id = guid(e.subarray(0, 16));
    const offset = e.readUInt32LE(16);
    if (id === VHDX_PARENT_LOCATOR) throw unsafe(path, 'a differencing VHDX, which needs its parent disk', 'Merge it into its parent (Hyper-V: Edit Disk > Merge) and convert that.');
    if (id === VHDX_FILE_PARAMETERS && (r.at(metadataAt + offset + 4, 4).readUInt32LE(0) & 2) !== 0) {
      throw unsafe(path, 'a differencing VHDX (HasParent), which needs its parent disk', 'Merge it into its parent (Hyper-V: Edit Disk > Merge) and convert that.');
    }
    if (id === VHDX_VIRTUAL_DISK_SIZE) virtualBytes = Number(r.at(metadataAt + offset, 8).readBigUInt64LE(0));
  }
  if (virtualBytes === undefined) throw unreadable(path, 'a VHDX that does not state its size');
  return { format: 'vhdx', kind: 'VHDX', virtualBytes };
}

/**
 * The format a file's extension says, when it says one; refused when the header says another
 * (a file named .img that is a qcow2 is what Glance's inspector catches: whoever picks the
 * name hopes the format is guessed from it, or from the bytes, by a tool that trusts either).
 */
export function checkExtension(path: string, header: DiskHeader): void {
  const ext = /\.([A-Za-z0-9]+)$/.exec(path.replace(/\.(gz|xz|bz2)$/i, ''))?.[1]?.toLowerCase();
  if (ext === undefined) return;
  const named = (Object.keys(FORMAT_EXTENSIONS) as ForeignFormat[]).find((f) => FORMAT_EXTENSIONS[f].includes(ext));
  if (named !== undefined && named !== header.format) {
    throw unsafe(path, `the name says ${named} (.${ext}) but the header is ${header.kind}`,
      `Rename the file to what it is (.${FORMAT_EXTENSIONS[header.format][0] ?? header.format}) if you trust its origin, or ask its maker what it is.`);
  }
}
