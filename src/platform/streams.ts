import { Transform } from 'node:stream';

/**
 * A pass-through stage that shows every chunk to `see`: counting, hashing, progress, limits.
 * What `see` throws fails the stream (thrown out of a transform, it would crash the process).
 */
export function tap(see: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _e, cb) {
      try {
        see(chunk);
      } catch (e) {
        return cb(e as Error);
      }
      cb(null, chunk);
    },
  });
}
