import { Transform } from 'node:stream';

/** A pass-through stage that shows every chunk to `see`: counting, hashing, progress. */
export function tap(see: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      see(chunk);
      cb(null, chunk);
    },
  });
}
