/**
 * A minimal ISO 9660 writer with Joliet names: one root directory of small files, which is
 * all a NoCloud seed (`cidata`) needs. Joliet matters: with plain ISO 9660 level-1 names Linux
 * shows `user_dat`, and cloud-init would not find `user-data`.
 *
 * Layout, in 2048-byte sectors:
 *   0-15  system area (zeros)
 *   16    primary volume descriptor     17  Joliet supplementary descriptor
 *   18    descriptor set terminator
 *   19-22 path tables: L and M for the primary tree, L and M for the Joliet tree
 *   23    primary root directory        24  Joliet root directory
 *   25…   file data, each file starting on a sector
 * Every multi-byte number is written both little- and big-endian where the standard asks.
 */
const SECTOR = 2048;

export interface IsoFile {
  /** The file name as programs will see it (Joliet): `user-data`, `meta-data`, … */
  name: string;
  data: Buffer;
}

export function buildIso(volumeId: string, files: IsoFile[], date = new Date()): Buffer {
  if (files.length > 30) throw new Error('buildIso: at most 30 files fit the one-sector root directory');
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : 1));
  const shortNames = uniqueShortNames(sorted.map((f) => f.name));
  const firstData = 25;
  const extents: number[] = [];
  let next = firstData;
  for (const f of sorted) {
    extents.push(next);
    next += Math.max(1, Math.ceil(f.data.length / SECTOR));
  }
  const totalSectors = next;
  const out = Buffer.alloc(totalSectors * SECTOR);

  const primaryRoot = directory(23, sorted.map((f, i) => ({ id: Buffer.from(`${shortNames[i]};1`, 'ascii'), extent: extents[i] as number, size: f.data.length })), date);
  const jolietRoot = directory(24, sorted.map((f, i) => ({ id: ucs2(f.name), extent: extents[i] as number, size: f.data.length })), date);
  primaryRoot.copy(out, 23 * SECTOR);
  jolietRoot.copy(out, 24 * SECTOR);

  out.set(volumeDescriptor(1, volumeId, totalSectors, 19, 20, 23, date), 16 * SECTOR);
  out.set(volumeDescriptor(2, volumeId, totalSectors, 21, 22, 24, date), 17 * SECTOR);
  const term = out.subarray(18 * SECTOR, 19 * SECTOR);
  term[0] = 255;
  term.write('CD001', 1, 'ascii');
  term[6] = 1;

  pathTable(23, 'LE').copy(out, 19 * SECTOR);
  pathTable(23, 'BE').copy(out, 20 * SECTOR);
  pathTable(24, 'LE').copy(out, 21 * SECTOR);
  pathTable(24, 'BE').copy(out, 22 * SECTOR);

  sorted.forEach((f, i) => f.data.copy(out, (extents[i] as number) * SECTOR));
  return out;
}

function volumeDescriptor(type: 1 | 2, volumeId: string, totalSectors: number, lPath: number, mPath: number, root: number, date: Date): Buffer {
  const b = Buffer.alloc(SECTOR);
  const joliet = type === 2;
  b[0] = type;
  b.write('CD001', 1, 'ascii');
  b[6] = 1;
  text(b, 8, 32, 'LINUX', joliet);
  text(b, 40, 32, volumeId, joliet);
  both32(b, 80, totalSectors);
  if (joliet) b.write('%/E', 88, 'ascii'); // UCS-2 level 3
  both16(b, 120, 1);
  both16(b, 124, 1);
  both16(b, 128, SECTOR);
  both32(b, 132, 10);
  b.writeUInt32LE(lPath, 140);
  b.writeUInt32BE(mPath, 148);
  record(root, SECTOR, 0x02, Buffer.from([0]), date).copy(b, 156);
  for (const [off, len] of [[190, 128], [318, 128], [446, 128], [574, 128], [702, 37], [739, 37], [776, 37]] as const) text(b, off, len, '', joliet);
  const stamp = longDate(date);
  stamp.copy(b, 813);
  stamp.copy(b, 830);
  Buffer.concat([Buffer.from('0000000000000000', 'ascii'), Buffer.from([0])]).copy(b, 847);
  stamp.copy(b, 864);
  b[881] = 1;
  return b;
}

function directory(self: number, entries: Array<{ id: Buffer; extent: number; size: number }>, date: Date): Buffer {
  const parts = [record(self, SECTOR, 0x02, Buffer.from([0]), date), record(self, SECTOR, 0x02, Buffer.from([1]), date)];
  for (const e of entries) parts.push(record(e.extent, e.size, 0, e.id, date));
  const all = Buffer.concat(parts);
  if (all.length > SECTOR) throw new Error('buildIso: file names too long for a one-sector directory');
  return all;
}

function record(extent: number, size: number, flags: number, id: Buffer, date: Date): Buffer {
  const len = 33 + id.length + (id.length % 2 === 0 ? 1 : 0);
  const r = Buffer.alloc(len);
  r[0] = len;
  both32(r, 2, extent);
  both32(r, 10, size);
  shortDate(date).copy(r, 18);
  r[25] = flags;
  both16(r, 28, 1);
  r[32] = id.length;
  id.copy(r, 33);
  return r;
}

function pathTable(rootExtent: number, endian: 'LE' | 'BE'): Buffer {
  const t = Buffer.alloc(10);
  t[0] = 1;
  if (endian === 'LE') {
    t.writeUInt32LE(rootExtent, 2);
    t.writeUInt16LE(1, 6);
  } else {
    t.writeUInt32BE(rootExtent, 2);
    t.writeUInt16BE(1, 6);
  }
  return t;
}

/** ISO 9660 level-1 names (8.3, upper case, d-characters), made unique with a counter. */
function uniqueShortNames(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((n) => {
    const dot = n.lastIndexOf('.');
    const clean = (s: string): string => s.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
    const base = clean(dot > 0 ? n.slice(0, dot) : n).slice(0, 8);
    const ext = dot > 0 ? clean(n.slice(dot + 1)).slice(0, 3) : '';
    let candidate = `${base}.${ext}`;
    for (let i = 1; used.has(candidate); i++) candidate = `${base.slice(0, 8 - String(i).length)}${i}.${ext}`;
    used.add(candidate);
    return candidate;
  });
}

function text(b: Buffer, off: number, len: number, s: string, ucs: boolean): void {
  if (ucs) {
    for (let i = 0; i + 1 < len; i += 2) b.writeUInt16BE(i / 2 < s.length ? s.charCodeAt(i / 2) : 0x20, off + i);
  } else {
    b.write(s.padEnd(len, ' ').slice(0, len), off, 'ascii');
  }
}

function ucs2(s: string): Buffer {
  const b = Buffer.alloc(s.length * 2);
  for (let i = 0; i < s.length; i++) b.writeUInt16BE(s.charCodeAt(i), i * 2);
  return b;
}

function both16(b: Buffer, off: number, v: number): void {
  b.writeUInt16LE(v, off);
  b.writeUInt16BE(v, off + 2);
}

function both32(b: Buffer, off: number, v: number): void {
  b.writeUInt32LE(v, off);
  b.writeUInt32BE(v, off + 4);
}

function shortDate(d: Date): Buffer {
  return Buffer.from([d.getUTCFullYear() - 1900, d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0]);
}

function longDate(d: Date): Buffer {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const s = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}00`;
  return Buffer.concat([Buffer.from(s, 'ascii'), Buffer.from([0])]);
}
