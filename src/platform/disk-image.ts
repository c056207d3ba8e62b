import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { StratusError } from '../domain/errors.js';
import { run } from './run.js';

export type DiskFormat = 'raw' | 'qcow2';

export interface InspectOptions {
  /**
   * The image must stand alone: a qcow2 naming a backing file or an external data file is
   * refused. Anything fetched or published is held to this: such a qcow2 makes QEMU read
   * whatever path it names on the host (/etc/shadow, another account's volume). Only the
   * overlays Stratus makes itself on its own origins have a backing file.
   */
  standalone?: boolean;
  /** The largest virtual size a qcow2 may declare (its file can be tiny and still promise terabytes). */
  maxVirtualBytes?: number;
  /** Whether a raw image must carry an MBR boot signature (a boot disk does; a data disk need not). */
  bootable?: boolean;
}

interface QemuImgInfo {
  'virtual-size'?: number;
  format?: string;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { data?: { 'data-file'?: string } };
}

/**
 * Cheap offline checks before an image is stored or booted, so a broken or hostile one fails
 * with a reason instead of a guest that never answers: a raw disk must carry an MBR boot
 * signature (when `bootable`), a qcow2 must be what it says, stand alone when asked, and pass
 * `qemu-img check`. Returns the virtual size (for a qcow2, only when it was read: standalone or bounded).
 */
export async function inspectImage(path: string, format: DiskFormat, opts: InspectOptions = {}): Promise<number | undefined> {
  if (format === 'qcow2') return inspectQcow2(path, opts);
  if (opts.bootable ?? true) requireBootSector(path);
  return statSync(path).size;
}

async function inspectQcow2(path: string, opts: InspectOptions): Promise<number | undefined> {
  // Booting an overlay Stratus made needs only the soundness check (the run's overhead counts).
  if (!opts.standalone && opts.maxVirtualBytes === undefined) {
    await checkQcow2(path);
    return undefined;
  }
  let info: QemuImgInfo;
  try {
    // -f: never probe (a raw file could pose as anything). info opens neither a backing file
    // nor a data file, so this is safe on a hostile image; check would open them, so it comes after.
    info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-f', 'qcow2', path], { timeoutMs: 60_000 })).stdout) as QemuImgInfo;
  } catch (e) {
    throw new StratusError('IMAGE_NOT_READABLE', `image ${path} is not a qcow2 disk: ${(e as Error).message}`, { hint: 'Check the image\'s format (dcterms:format, or --qcow-disk-format for a URL).' });
  }
  if (opts.standalone) {
    const backing = info['full-backing-filename'] ?? info['backing-filename'];
    if (backing !== undefined) {
      throw new StratusError('IMAGE_UNSAFE', `image ${path} is a qcow2 with a backing file (${backing}): refused, as QEMU would read that file of the server's host`);
    }
    const dataFile = info['format-specific']?.data?.['data-file'];
    if (dataFile !== undefined) {
      throw new StratusError('IMAGE_UNSAFE', `image ${path} is a qcow2 with an external data file (${dataFile}): refused, as QEMU would read that file of the server's host`);
    }
  }
  const virtual = info['virtual-size'] ?? 0;
  if (opts.maxVirtualBytes !== undefined && virtual > opts.maxVirtualBytes) {
    throw new StratusError('IMAGE_UNSAFE', `image ${path} is a qcow2 of ${virtual} bytes, more than the ${opts.maxVirtualBytes} bytes a volume may have`);
  }
  await checkQcow2(path);
  return virtual;
}

async function checkQcow2(path: string): Promise<void> {
  try {
    await run('qemu-img', ['check', '-q', '-f', 'qcow2', path], { timeoutMs: 120_000 });
  } catch (e) {
    throw new StratusError('IMAGE_NOT_READABLE', `image ${path} is not a sound qcow2 disk: ${(e as Error).message}`);
  }
}

function requireBootSector(path: string): void {
  const fd = openSync(path, 'r');
  const mbr = Buffer.alloc(512);
  try {
    readSync(fd, mbr, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  if (mbr[510] !== 0x55 || mbr[511] !== 0xaa) {
    throw new StratusError('IMAGE_NOT_READABLE', `image ${path} is not a bootable disk: it has no boot sector (no 0x55AA signature at byte 510)`, {
      hint: 'Base images carry a partition table and a boot loader; check that the file is the whole disk image and not corrupted.',
    });
  }
}
