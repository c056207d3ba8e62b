import type { Readable, Writable } from 'node:stream';

/**
 * The port behind which volume bytes live. The file driver keeps them in the data dir; LVM,
 * Ceph RBD or S3-backed drivers can implement the same port later, and every driver runs
 * `volumeDriverConformance` (conformance.ts).
 */
export type VolumeFormat = 'raw' | 'qcow2';

/** Where a hypervisor finds a volume's bytes. */
export interface VolumeLocation {
  path: string;
  format: VolumeFormat;
}

/**
 * A volume being written. Nothing is visible under the volume's uuid until commit();
 * abort() (or a failed commit) leaves nothing behind.
 */
export interface VolumeUpload {
  /** Raw content; all-zero blocks are not written, so images stay sparse. */
  readonly content: Writable;
  /** The content as uploaded, gzipped, kept to serve downloads without recompressing. */
  readonly compressed: Writable | undefined;
  commit(): Promise<{ bytes: number }>;
  abort(): Promise<void>;
}

export interface VolumeDriver {
  readonly name: string;
  /** A new empty raw volume of `bytes` (sparse: constant time whatever the size). */
  createEmpty(uuid: string, bytes: number): Promise<void>;
  /** Starts writing a new raw volume; `withCompressed` keeps the gzip stream too. */
  beginUpload(uuid: string, withCompressed: boolean): Promise<VolumeUpload>;
  /**
   * Makes the image file at `path` (already verified; a qcow2 one standing alone, with no
   * backing or data file) the content of a new volume in that format, moving it rather than
   * copying when it sits on the store's filesystem (see scratchDir). `bytes`: the file's size.
   */
  importImage(uuid: string, path: string, format: VolumeFormat): Promise<{ bytes: number }>;
  /** A directory on the store's filesystem for downloads that importImage then moves in (the caller creates it); never swept. */
  readonly scratchDir: string;
  /**
   * A copy-on-write overlay of `origin` (raw or qcow2), in constant time; or, with `delta` (a
   * qcow2 file over `origin`'s content, such as an instance layer), an overlay that starts with
   * the clusters of `delta`: a copy of it, in time linear in its size, the file left as it was.
   */
  snapshot(origin: string, uuid: string, delta?: string): Promise<void>;
  /** A standalone raw copy of `source` (a snapshot flattened onto its origin). */
  flatten(source: string, uuid: string): Promise<{ bytes: number }>;
  /** The gzipped content, for downloads with Range support (made once, then cached). */
  gzipped(uuid: string): Promise<{ size: number; open(start?: number, end?: number): Readable }>;
  /** The raw content, read from the start. */
  openRaw(uuid: string): Promise<Readable>;
  /** Virtual size in bytes. */
  size(uuid: string): Promise<number>;
  locate(uuid: string): VolumeLocation;
  exists(uuid: string): Promise<boolean>;
  delete(uuid: string): Promise<void>;
  /** Every uuid with stored bytes, and every leftover temporary file (for consistency checks). */
  inventory(): Promise<{ volumes: string[]; temporary: string[] }>;
  /** Removes temporary files left by a crash; called at start-up. */
  sweep(): Promise<number>;
}
