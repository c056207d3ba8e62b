import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MultiHash } from '../platform/hashing.js';
import type { DigestName, DigestResult } from '../platform/hashing.js';
import type { VolumeDriver } from '../storage/volumes/driver.js';
import { rawChain } from '../platform/raw-reader.js';
import { qcow2Stream } from '../platform/qcow2-stream.js';
import { clustersOf } from '../platform/qcow2-layout.js';

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

/**
 * Saves `source` (a snapshot and its origin) as the new standalone qcow2 volume `target`: only
 * the clusters the chain stores are written, metadata first, in one sequential pass that
 * hashes exactly the bytes of the file (which is what an entry's checksums describe). Much
 * less to write and hash than the raw disk, which is mostly zeros. Undefined when the chain's
 * map cannot be read straight (compressed clusters, encryption): the caller saves it raw.
 */
export async function copyQcow2Hashed(driver: VolumeDriver, source: string, target: string, o: { algorithms?: DigestName[]; onProgress?: (bytes: number) => void } = {}): Promise<{ content: DigestResult; virtualSize: number } | undefined> {
  const chain = await rawChain(driver.locate(source).path);
  if (!chain) return undefined;
  const file = savingFile(driver, target);
  const hash = new MultiHash(o.algorithms ?? ENTRY_DIGESTS);
  try {
    await mkdir(driver.scratchDir, { recursive: true });
    const handle = await open(file, 'w', 0o600);
    try {
      let written = 0;
      for await (const buf of qcow2Stream(chain.bytes(), chain.size, clustersOf(chain.data))) {
        await Promise.all([hash.update(buf), handle.write(buf, 0, buf.length, written)]);
        written += buf.length;
        o.onProgress?.(written);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    const content = await hash.digest();
    const { bytes } = await driver.importImage(target, file, 'qcow2');
    if (bytes !== content.bytes) throw new Error(`the save of ${source} wrote ${bytes} bytes but hashed ${content.bytes}`);
    return { content, virtualSize: chain.size };
  } catch (e) {
    await rm(file, { force: true });
    await driver.delete(target);
    throw e;
  } finally {
    await hash.close();
  }
}

/** Where copyQcow2Hashed writes before the volume store takes the file: removed with a save that is undone. */
export function savingFile(driver: Pick<VolumeDriver, 'scratchDir'>, target: string): string {
  return join(driver.scratchDir, `${target}.save.qcow2`);
}
