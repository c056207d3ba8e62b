/**
 * A standalone qcow2 (version 3) image laid out in one sequential pass: every metadata cluster
 * first, then the guest's allocated clusters in guest order. Known up front from the source's
 * allocation map, so the file can be written (and hashed) front to back as a stream, with no
 * seek and no second read: what the save of an instance's disk needs to compute the new
 * image's checksums as it writes it. The layout follows the qcow2 specification in QEMU's
 * docs/interop/qcow2.txt: 64 KiB clusters, 16-bit refcounts, no backing file, no snapshots.
 */

export const CLUSTER_BITS = 16;
export const CLUSTER = 1 << CLUSTER_BITS;
const L2_ENTRIES = CLUSTER / 8;
const REFCOUNTS_PER_BLOCK = CLUSTER / 2;
const HEADER_LENGTH = 104;
/** L1/L2 entry flag: the cluster's refcount is exactly one (it may be written in place). */
const COPIED = 1n << 63n;

export interface Qcow2Layout {
  /** Every cluster before the data: header, L1 table, refcount table and blocks, L2 tables. */
  metadata: Buffer;
  /** The file's size once the data clusters follow the metadata. */
  fileSize: number;
}

/**
 * The metadata of a qcow2 image of `virtualSize` bytes whose guest clusters `allocated`
 * (strictly increasing cluster indexes) are stored, in that order, right after it. Clusters
 * not listed read as zeros (an unallocated cluster of an image with no backing file).
 */
export function qcow2Layout(virtualSize: number, allocated: readonly number[]): Qcow2Layout {
  if (!Number.isSafeInteger(virtualSize) || virtualSize <= 0) throw new RangeError(`a qcow2 image needs a positive size, not ${virtualSize}`);
  const guestClusters = Math.ceil(virtualSize / CLUSTER);
  for (let i = 0; i < allocated.length; i++) {
    const c = allocated[i] as number;
    if (!Number.isInteger(c) || c < 0 || c >= guestClusters || (i > 0 && c <= (allocated[i - 1] as number))) {
      throw new RangeError(`allocated clusters must be increasing and below ${guestClusters}: ${c} at ${i}`);
    }
  }
  const l1Size = Math.ceil(guestClusters / L2_ENTRIES);
  const l1Clusters = Math.ceil((l1Size * 8) / CLUSTER);
  const l2Tables = [...new Set(allocated.map((c) => Math.floor(c / L2_ENTRIES)))];
  // The refcount structures count themselves: grow them until they cover every cluster.
  let blocks = 1;
  let tableClusters = 1;
  for (;;) {
    const total = 1 + l1Clusters + tableClusters + blocks + l2Tables.length + allocated.length;
    const needBlocks = Math.ceil(total / REFCOUNTS_PER_BLOCK);
    const needTable = Math.ceil((needBlocks * 8) / CLUSTER);
    if (needBlocks <= blocks && needTable <= tableClusters) break;
    blocks = Math.max(blocks, needBlocks);
    tableClusters = Math.max(tableClusters, needTable);
  }
  const l1At = 1;
  const tableAt = l1At + l1Clusters;
  const blocksAt = tableAt + tableClusters;
  const l2At = blocksAt + blocks;
  const dataAt = l2At + l2Tables.length;
  const total = dataAt + allocated.length;
  const meta = Buffer.alloc(dataAt * CLUSTER);
  const offset = (cluster: number): bigint => BigInt(cluster) * BigInt(CLUSTER);

  meta.writeUInt32BE(0x514649fb, 0); // "QFI\xfb"
  meta.writeUInt32BE(3, 4);
  meta.writeUInt32BE(CLUSTER_BITS, 20);
  meta.writeBigUInt64BE(BigInt(virtualSize), 24);
  meta.writeUInt32BE(l1Size, 36);
  meta.writeBigUInt64BE(offset(l1At), 40);
  meta.writeBigUInt64BE(offset(tableAt), 48);
  meta.writeUInt32BE(tableClusters, 56);
  meta.writeUInt32BE(4, 96); // refcount_order: 16-bit refcounts
  meta.writeUInt32BE(HEADER_LENGTH, 100);
  // The header extensions that follow are just the end marker: the zeros already there.

  const tableOf = new Map(l2Tables.map((index, k) => [index, k]));
  l2Tables.forEach((index, k) => meta.writeBigUInt64BE(offset(l2At + k) | COPIED, l1At * CLUSTER + index * 8));
  allocated.forEach((c, rank) => {
    const table = tableOf.get(Math.floor(c / L2_ENTRIES)) as number;
    meta.writeBigUInt64BE(offset(dataAt + rank) | COPIED, (l2At + table) * CLUSTER + (c % L2_ENTRIES) * 8);
  });
  for (let b = 0; b < blocks; b++) meta.writeBigUInt64BE(offset(blocksAt + b), tableAt * CLUSTER + b * 8);
  for (let h = 0; h < total; h++) meta.writeUInt16BE(1, blocksAt * CLUSTER + h * 2);
  return { metadata: meta, fileSize: total * CLUSTER };
}

/** The guest clusters holding any of the byte ranges `[start, start + length)`, increasing. */
export function clustersOf(ranges: Iterable<{ start: number; length: number }>): number[] {
  const out: number[] = [];
  for (const r of ranges) {
    if (r.length <= 0) continue;
    const first = Math.floor(r.start / CLUSTER);
    const last = Math.floor((r.start + r.length - 1) / CLUSTER);
    for (let c = Math.max(first, (out[out.length - 1] ?? -1) + 1); c <= last; c++) out.push(c);
  }
  return out;
}
