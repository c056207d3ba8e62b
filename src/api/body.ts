import type { Readable } from 'node:stream';
import { StratusError } from '../domain/errors.js';

/**
 * Memory for request bodies being read into buffers (metadata uploads), shared by all
 * requests: each body's bytes count from the first chunk until the request ends, so slow or
 * stalled uploads cannot together hold more than `maxBytes`.
 */
export class BodyBudget {
  private used = 0;

  constructor(readonly maxBytes: number) {}

  take(bytes: number): boolean {
    if (this.used + bytes > this.maxBytes) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  get inUse(): number {
    return this.used;
  }
}

/**
 * Reads a body into one buffer: refused (413) as soon as it passes `limit`, declared or not,
 * and refused (503) when the shared budget has no room for it. Its bytes leave the budget when
 * the body is handed over (then it is the handler's) or the read fails.
 */
export function readBody(stream: Readable, limit: number, budget: BodyBudget, declaredLength?: number): Promise<Buffer> {
  if (declaredLength !== undefined && declaredLength > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error: StratusError | Error | undefined): void => {
      if (done) return;
      done = true;
      budget.give(size);
      stream.off('data', onData);
      if (error) {
        stream.resume(); // let the rest drain or the socket close; nothing more is kept
        reject(error);
      } else {
        resolve(Buffer.concat(chunks, size));
      }
    };
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > limit) return finish(tooLarge(limit));
      if (!budget.take(chunk.length)) {
        return finish(new StratusError('SERVER_BUSY', `the server holds ${budget.maxBytes} bytes of unfinished request bodies already`, { retryAfterS: 5 }));
      }
      size += chunk.length;
      chunks.push(chunk);
    };
    stream.on('data', onData);
    stream.once('end', () => finish(undefined));
    stream.once('error', (e) => finish(e));
    // A client that goes away mid-body: the request is aborted and no 'end' ever comes.
    stream.once('close', () => finish(new StratusError('UPLOAD_INCOMPLETE', 'the request body ended before its declared length')));
  });
}

function tooLarge(limit: number): StratusError {
  return new StratusError('XML_TOO_LARGE', `request body is over the limit of ${limit} bytes`, {
    hint: `Metadata entries are a few kilobytes (this server takes at most ${limit} bytes, max_metadata_bytes); check that you sent the metadata file, not the image.`,
  });
}
