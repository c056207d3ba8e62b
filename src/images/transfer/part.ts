import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';

/** What a later run needs to resume: which image, from where, and the server's validator. */
export interface PartState {
  identifier: string;
  location: string;
  etag?: string;
  lastModified?: string;
  /** Raw bytes in the .part file when the state was written (the file itself is the truth). */
  bytes: number;
  /** Raw size of the whole download, when the server said. */
  total?: number;
}

/**
 * The resumable part of a download: `<output>.part` holds the raw (still compressed) bytes as
 * received, `<output>.part.json` says what they are. Bytes are appended to .part before they
 * go further, so after any interruption, even SIGKILL, .part is a true prefix of the download.
 */
export class PartFiles {
  readonly part: string;
  readonly meta: string;

  constructor(output: string) {
    this.part = `${output}.part`;
    this.meta = `${output}.part.json`;
  }

  /** The state left by an earlier run for this image, or undefined when there is none usable. */
  read(identifier: string): PartState | undefined {
    if (!existsSync(this.part) || !existsSync(this.meta)) return undefined;
    try {
      const s = JSON.parse(readFileSync(this.meta, 'utf8')) as Partial<PartState>;
      if (s.identifier !== identifier || typeof s.location !== 'string') return undefined;
      return { ...s, identifier, location: s.location, bytes: this.size() };
    } catch {
      return undefined;
    }
  }

  size(): number {
    try {
      return statSync(this.part).size;
    } catch {
      return 0;
    }
  }

  /**
   * Replaces .part.json through a temporary file with a fixed name, so that a kill in the
   * middle leaves either the old or the new state, and no stray file the next run cannot find.
   */
  save(state: PartState): void {
    writeFileSync(`${this.meta}.tmp`, JSON.stringify(state) + '\n');
    renameSync(`${this.meta}.tmp`, this.meta);
  }

  remove(): void {
    for (const f of [this.part, this.meta, `${this.meta}.tmp`]) rmSync(f, { force: true });
  }
}
