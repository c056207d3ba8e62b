import { existsSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { StratusError } from '../../domain/errors.js';
import { hashFile } from '../../platform/hashing.js';
import type { DigestName, DigestResult } from '../../platform/hashing.js';
import { progressBar } from '../../platform/progress.js';
import { gzipFile } from './compress.js';

/** What upload-image sends: which file, and whether the server must inflate it. */
export interface ImageSource {
  /** The file named on the command line. */
  image: string;
  /** The file to send. */
  upload: string;
  gzipped: boolean;
  /** Set when `upload` still has to be made (gzip of `image`). */
  compressFrom?: string;
  /** The uncompressed file, when there is one on disk (cheapest to hash). */
  plain?: string;
}

/**
 * Decides, before anything is sent, what to upload for `-C`: the server takes gzip (or raw
 * bytes), so bzip2 is refused here instead of after a long compression.
 */
export function planSource(image: string, compress: string): ImageSource {
  if (!['gz', 'bz2', 'none'].includes(compress)) {
    throw new StratusError('USAGE', `-C/--compress ${compress}: use gz, bz2 or none`);
  }
  if (compress === 'bz2' || image.endsWith('.bz2')) {
    throw new StratusError('USAGE', compress === 'bz2'
      ? '-C bz2: the disk service takes gzip (or uncompressed) images only'
      : `${image} is bzip2-compressed; the disk service takes gzip (or uncompressed) images only`, {
      hint: compress === 'bz2' ? 'Use -C gz (the default) or -C none.' : `Decompress it first (bunzip2 -k ${image}) and upload the .img.`,
    });
  }
  if (image.endsWith('.gz')) return { image, upload: image, gzipped: true };
  if (compress === 'none') return { image, upload: image, gzipped: false, plain: image };
  const gz = `${image}.gz`;
  return existsSync(gz) ? { image, upload: gz, gzipped: true, plain: image } : { image, upload: gz, gzipped: true, plain: image, compressFrom: image };
}

/**
 * Makes the file to upload (the 'Compressing image' step). Digests of the uncompressed
 * content are computed in the same pass when `algorithms` is given and a pass is made anyway.
 */
export async function prepareSource(src: ImageSource, algorithms: DigestName[], note: (msg: string) => void, warn: (msg: string) => void): Promise<DigestResult | undefined> {
  if (!src.compressFrom) {
    if (src.upload === src.image) note(src.gzipped ? `${src.image} is compressed already` : `${src.image} is sent uncompressed (-C none)`);
    else {
      note(`using the existing ${src.upload}`);
      if (statSync(src.upload).mtimeMs < statSync(src.image).mtimeMs) warn(`${src.upload} is older than ${src.image}; delete it if the image changed`);
    }
    return undefined;
  }
  const bar = progressBar(`compressing ${basename(src.image)}`, statSync(src.image).size);
  const result = await gzipFile(src.compressFrom, src.upload, { algorithms, onProgress: (n) => bar.update(n) });
  bar.finish();
  return algorithms.length > 0 ? result : undefined;
}

/** Digests of the uncompressed content, reading the plain file when there is one. */
export async function digestSource(src: ImageSource, algorithms: DigestName[]): Promise<DigestResult> {
  const file = src.plain ?? src.upload;
  const bar = progressBar(`hashing ${basename(file)}`, statSync(file).size);
  const result = await hashFile(file, { algorithms, compression: file === src.plain ? 'none' : 'gz', onProgress: (read) => bar.update(read) });
  bar.finish();
  return result;
}
