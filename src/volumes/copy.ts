import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MultiHash } from '../platform/hashing.js';
import type { DigestName, DigestResult } from '../platform/hashing.js';
import type { VolumeDriver } from '../storage/volumes/driver.js';

/** The four checksums an entry carries (slreq:checksum): a saved image gets all of them. */
export const ENTRY_DIGESTS: DigestName[] = ['md5', 'sha1', 'sha256', 'sha512'];

/**
 * Copies `source`'s raw content (a snapshot read through its origin) into the new raw volume
 * `target`, computing byte count and digests of exactly the bytes written, in the same pass:
 * StratusLab hashed the new volume again afterwards (and kept the parent's other checksums).
 * The copy goes through the driver's upload (sparse, temporary file, renamed in by commit);
 * on any failure nothing is left under `target`, and the source is not touched.
 * `onProgress` sees the bytes copied so far; what it throws stops the copy like any failure.
 */
export async function copyRawHashed(driver: VolumeDriver, source: string, target: string, o: { algorithms?: DigestName[]; onProgress?: (bytes: number) => void } = {}): Promise<DigestResult> {
  const content = await driver.openRaw(source);
  const hash = new MultiHash(o.algorithms ?? ENTRY_DIGESTS);
  let copied = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk).then(() => {
        copied += chunk.length;
        o.onProgress?.(copied);
        cb(null, chunk);
      }).catch((e: unknown) => cb(e as Error));
    },
  });
  try {
    const upload = await driver.beginUpload(target, false).catch((e: unknown) => {
      content.destroy();
      throw e;
    });
    try {
      await pipeline(content, hashing, upload.content);
      const result = await hash.digest();
      const { bytes } = await upload.commit();
      if (bytes !== result.bytes) throw new Error(`the copy of ${source} wrote ${bytes} bytes but hashed ${result.bytes}`);
      return result;
    } catch (e) {
      await upload.abort();
      await driver.delete(target);
      throw e;
    }
  } finally {
    await hash.close();
  }
}
