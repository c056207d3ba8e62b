import { gzipSync } from 'node:zlib';
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
