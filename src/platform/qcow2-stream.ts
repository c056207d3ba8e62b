import { CLUSTER, qcow2Layout } from './qcow2-layout.js';

/** Output is handed on in buffers of this size: few hash and write calls. */
const BATCH = 4 * 1024 * 1024;

/**
 * The bytes of a standalone qcow2 image of the guest content `raw` (`size` bytes, front to
 * back), storing only the clusters `allocated` (the rest read as zeros): the layout of
 * qcow2Layout, produced as a stream. Each yielded buffer is new: it may be kept or written
 * asynchronously while the next is made.
 */
export async function* qcow2Stream(raw: AsyncIterable<Buffer>, size: number, allocated: readonly number[]): AsyncGenerator<Buffer> {
  const { metadata } = qcow2Layout(size, allocated);
  yield metadata;
  let next = 0;
  let pos = 0;
  let batch = Buffer.allocUnsafe(BATCH);
  let fill = 0;
  for await (const chunk of raw) {
    let off = 0;
    while (off < chunk.length) {
      const cluster = Math.floor(pos / CLUSTER);
      const wanted = allocated[next];
      if (wanted === undefined || cluster < wanted) {
        // Not stored: skip to the next stored cluster or the chunk's end.
        const to = wanted === undefined ? Infinity : wanted * CLUSTER;
        const n = Math.min(chunk.length - off, to - pos);
        off += n;
        pos += n;
        continue;
      }
      const inCluster = pos % CLUSTER;
      const n = Math.min(CLUSTER - inCluster, chunk.length - off);
      chunk.copy(batch, fill + inCluster, off, off + n);
      off += n;
      pos += n;
      if (inCluster + n === CLUSTER) {
        fill += CLUSTER;
        next++;
        if (fill === BATCH) {
          yield batch;
          batch = Buffer.allocUnsafe(BATCH);
          fill = 0;
        }
      }
    }
  }
  if (pos !== size) throw new Error(`the disk gave ${pos} bytes, not the ${size} its map lists`);
  if (next < allocated.length) {
    // The last cluster runs past the end of the disk: the rest of it reads as zeros.
    const inCluster = pos % CLUSTER;
    batch.fill(0, fill + inCluster, fill + CLUSTER);
    fill += CLUSTER;
    next++;
  }
  if (next !== allocated.length) throw new Error(`the disk ended before ${allocated.length - next} of its stored clusters`);
  if (fill > 0) yield batch.subarray(0, fill);
}
