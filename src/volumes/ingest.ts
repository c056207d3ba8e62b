import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { StratusError } from '../domain/errors.js';
import type { VolumeDriver } from '../storage/volumes/driver.js';

/**
 * Streams an upload into a new volume in one pass: the gzip bytes go to the kept compressed
 * copy, are inflated, hashed (SHA-1) and written sparse. Commits only when everything
 * arrived; on any failure the partial files are removed and the error says what happened.
 */
export async function streamIntoVolume(driver: VolumeDriver, uuid: string, source: Readable, gzipped: boolean): Promise<{ bytes: number; sha1: string }> {
  const upload = await driver.beginUpload(uuid, gzipped);
  const hash = createHash('sha1');
  let received = 0;
  const counting = new Transform({
    transform(chunk: Buffer, _e, cb) {
      received += chunk.length;
      cb(null, chunk);
    },
  });
  const hashing = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    if (gzipped && upload.compressed) await pipeline(source, counting, tee(upload.compressed), createGunzip(), hashing, upload.content);
    else await pipeline(source, counting, hashing, upload.content);
    if (upload.compressed) {
      upload.compressed.end();
      if (!upload.compressed.writableFinished) await once(upload.compressed, 'finish');
    }
    const { bytes } = await upload.commit();
    return { bytes, sha1: hash.digest('hex') };
  } catch (e) {
    await upload.abort();
    throw uploadError(e, received);
  }
}

/** Passes chunks on and copies them to `side`, waiting when `side` is slow. */
function tee(side: Writable): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      if (side.write(chunk)) cb(null, chunk);
      else side.once('drain', () => cb(null, chunk));
    },
  });
}

function uploadError(e: unknown, received: number): Error {
  if (e instanceof StratusError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'Z_BUF_ERROR' || err.code === 'Z_DATA_ERROR' || /unexpected end of file|incorrect header/.test(err.message)) {
    return new StratusError('UPLOAD_INCOMPLETE', `the upload is not a complete gzip stream (${err.message}; ${received} bytes received)`, {
      hint: 'Upload the whole .gz file again (gzip -t FILE checks it); nothing was kept.',
    });
  }
  if (err.code === 'ECONNRESET' || err.code === 'ERR_STREAM_PREMATURE_CLOSE' || /aborted|premature/i.test(err.message)) {
    return new StratusError('UPLOAD_INCOMPLETE', `the upload was cut off after ${received} bytes; nothing was kept`);
  }
  return err;
}
