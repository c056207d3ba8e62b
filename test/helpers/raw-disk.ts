import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

const MIB = 1024 * 1024;

/**
 * Writes a 64 MiB raw disk image at `path`, sparse (made with qemu-img), with random data at 0,
 * at 10 MiB (4 MiB of it) and in its last 4 KiB: holes and data, as an origin has them.
 */
export function rawDiskFile(path: string): string {
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', path, String(64 * MIB)]);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, randomBytes(512), 0, 512, 0);
    writeSync(fd, randomBytes(4 * MIB), 0, 4 * MIB, 10 * MIB);
    writeSync(fd, randomBytes(4096), 0, 4096, 64 * MIB - 4096);
  } finally {
    closeSync(fd);
  }
  return path;
}
