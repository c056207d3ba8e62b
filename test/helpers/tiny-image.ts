import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { run } from '../../src/platform/run.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';

/**
 * A disk that really boots, in no time and with no OS: its boot sector writes `banner` to
 * COM1 (the instance's console log) and halts. So a test sees from the console whether the
 * hypervisor read the image as what it is: a qcow2 read as raw has no boot sector, and the
 * BIOS says so instead.
 */
export function bannerDisk(banner: string, bytes = 1024 * 1024): Buffer {
  const code = Buffer.from([
    0xfa, // cli
    0xfc, // cld
    0x31, 0xc0, // xor ax, ax
    0x8e, 0xd8, // mov ds, ax
    0xbe, 0x16, 0x7c, // mov si, 0x7c16 (the banner, right after this code)
    0xba, 0xf8, 0x03, // mov dx, 0x3f8 (COM1)
    0xac, // lodsb
    0x84, 0xc0, // test al, al
    0x74, 0x03, // jz halt
    0xee, // out dx, al
    0xeb, 0xf8, // jmp lodsb
    0xf4, // halt: hlt
    0xeb, 0xfd, // jmp halt
  ]);
  const disk = Buffer.alloc(bytes);
  code.copy(disk, 0);
  Buffer.from(`${banner}\r\n\0`, 'latin1').copy(disk, code.length);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}

/** The same disk as a standalone qcow2 file (its bytes). */
export async function qcow2Of(raw: Buffer, dir: string, name: string): Promise<Buffer> {
  const plain = `${dir}/${name}.raw`;
  const out = `${dir}/${name}.qcow2`;
  writeFileSync(plain, raw);
  await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', plain, out]);
  return readFileSync(out);
}

/**
 * A hostile qcow2: it names `backing` (a file of the host) as its backing file, or, with
 * `dataFile`, as its external data file, so a guest booting it would read that file.
 */
export async function hostileQcow2(dir: string, name: string, o: { backing: string } | { dataFile: '/etc/shadow' }): Promise<Buffer> {
  const out = `${dir}/${name}.qcow2`;
  // -u: the backing file is named, never opened.
  if ('backing' in o) {
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', o.backing, '-u', out, '1M']);
    return readFileSync(out);
  }
  // qemu-img create makes the data file it names, so it names a harmless one of the same
  // length in the test's folder, and the name is patched in the header afterwards.
  const stand = 'shadow-copy';
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${stand},data_file_raw=on`, `${name}.qcow2`, '1M'], { cwd: dir });
  const bytes = readFileSync(out);
  const at = bytes.indexOf(stand, 0, 'latin1');
  if (at < 0 || stand.length !== o.dataFile.length) throw new Error('no data file name to patch in the qcow2 header');
  Buffer.from(o.dataFile, 'latin1').copy(bytes, at);
  return bytes;
}

/** SHA-1, identifier and size of an image, as its Marketplace entry gives them. */
export function imageFacts(bytes: Buffer): { sha1: string; identifier: string; bytes: number } {
  const sha1 = createHash('sha1').update(bytes).digest('hex');
  return { sha1, identifier: identifierFromSha1(sha1), bytes: bytes.length };
}
