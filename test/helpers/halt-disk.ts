import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { run } from '../../src/platform/run.js';
import { PdiskClient } from '../../src/client/pdisk-client.js';
import type { Credentials } from '../../src/client/pdisk-client.js';
import { streamOf } from './pdisk.js';

/**
 * A 1 MiB raw disk whose boot sector halts the CPU (cli; hlt; jmp back): QEMU runs it for real,
 * so an instance of it reaches Running with its VNC server, QMP and all, yet its guest costs
 * nothing under TCG. For tests of the cloud around a machine, not of a guest (those take a
 * guest slot and a real image, in test/vm/).
 */
export function haltDisk(): Buffer {
  const disk = Buffer.alloc(1024 * 1024);
  disk.set([0xfa, 0xf4, 0xeb, 0xfd], 0);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}

/** Uploads the halting disk as `who`'s origin volume: each run of it boots its own snapshot. Its UUID. */
export async function haltOrigin(url: string, who: Credentials): Promise<string> {
  const gz = gzipSync(haltDisk());
  const volume = await new PdiskClient(url, who).upload(streamOf(gz), { gzipped: true, size: gz.length, type: 'MACHINE_IMAGE_ORIGIN', tag: 'halt' });
  return volume.uuid;
}

/** What the writing disk's guest writes: its boot sector, which carries this mark at offset 0x40. */
export const WRITER_MARK = 'STRATUS-LAYER-MARK';

/**
 * A 1 MiB raw disk whose boot sector writes itself to the disk through the BIOS, then halts:
 * to sector 3 (byte 1024) when that sector does not hold the mark yet, else to sector 4 (byte
 * 1536). So an instance of it changes its disk within a second of booting, as a guest would,
 * and one whose disk started as a layer of such an instance shows it by writing sector 4.
 */
export function writerDisk(): Buffer {
  const code = Buffer.from([
    0x31, 0xc0, // xor ax, ax
    0x8e, 0xc0, // mov es, ax
    0x8e, 0xd8, // mov ds, ax
    0x52, // push dx (the boot drive)
    0xbb, 0x00, 0x80, // mov bx, 0x8000
    0xb8, 0x01, 0x02, // mov ax, 0x0201: read one sector
    0xb9, 0x03, 0x00, // mov cx, 0x0003: cylinder 0, sector 3
    0x30, 0xf6, // xor dh, dh
    0xcd, 0x13, // int 0x13
    0x5a, // pop dx
    0xb1, 0x03, // mov cl, 3
    0x80, 0x3e, 0x40, 0x80, 0x53, // cmp byte [0x8040], 'S'
    0x75, 0x02, // jne write
    0xb1, 0x04, // mov cl, 4
    0xbb, 0x00, 0x7c, // write: mov bx, 0x7c00
    0xb8, 0x01, 0x03, // mov ax, 0x0301: write one sector
    0x30, 0xed, // xor ch, ch
    0x30, 0xf6, // xor dh, dh
    0xcd, 0x13, // int 0x13
    0xfa, // halt: cli
    0xf4, // hlt
    0xeb, 0xfc, // jmp halt
  ]);
  const disk = Buffer.alloc(1024 * 1024);
  code.copy(disk, 0);
  disk.write(WRITER_MARK, 0x40, 'latin1');
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}

/** Uploads the writing disk as `who`'s origin volume. Its UUID. */
export async function writerOrigin(url: string, who: Credentials): Promise<string> {
  const gz = gzipSync(writerDisk());
  const volume = await new PdiskClient(url, who).upload(streamOf(gz), { gzipped: true, size: gz.length, type: 'MACHINE_IMAGE_ORIGIN', tag: 'writer' });
  return volume.uuid;
}

/** Which of its sectors the writer's guest has written on `disk` (read as the guest sees it, with -U while QEMU runs it). */
export async function writerMarks(disk: { path: string; format: 'raw' | 'qcow2' }): Promise<{ first: boolean; second: boolean }> {
  const scratch = mkdtempSync(join(tmpdir(), 'stratus-writer-'));
  try {
    const flat = join(scratch, 'disk.raw');
    await run('qemu-img', ['convert', '-U', '-f', disk.format, '-O', 'raw', disk.path, flat]);
    const bytes = readFileSync(flat);
    const at = (offset: number): boolean => bytes.subarray(offset + 0x40, offset + 0x40 + WRITER_MARK.length).toString('latin1') === WRITER_MARK;
    return { first: at(1024), second: at(1536) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Waits (up to `timeoutMs`) until `check` says yes; fails with `what` otherwise. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
