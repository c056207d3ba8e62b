import { StratusError } from '../domain/errors.js';
import { compressedBound, gibToBytes } from '../domain/volume.js';
import type { Quota, Usage } from '../storage/volumes/store.js';

/**
 * What one owner's uploads in flight hold of its GiB quota. A volume takes whole GiB (at
 * least one), so an upload reserves a GiB at a time, as its content passes each boundary.
 */
interface OwnerHold {
  gib: number;
}

/**
 * The limits of uploads while they stream: each upload's content may not pass the server's
 * max_volume_gib, nor what its owner's GiB quota leaves once the owner's volumes and other
 * uploads in flight are counted. The database check when the volume is recorded stays the
 * authority (several servers may share one PostgreSQL); this stops a large upload, or a
 * decompression bomb, as soon as it passes a limit instead of after it has all been written.
 */
export class UploadBudgets {
  private readonly holds = new Map<string, OwnerHold>();

  constructor(private readonly maxVolumeGib: number) {}

  /** Starts counting an upload of `owner`, who uses `use` and has `quota`. Throws when not even one GiB is left. */
  open(owner: string, use: Usage, quota: Quota): UploadBudget {
    let hold = this.holds.get(owner);
    if (!hold) this.holds.set(owner, hold = { gib: 0 });
    const budget = new UploadBudget(owner, use, quota, this.maxVolumeGib, hold, () => {
      if (hold.gib === 0 && this.holds.get(owner) === hold) this.holds.delete(owner);
    });
    try {
      budget.content(0);
    } catch (e) {
      budget.close();
      throw e;
    }
    return budget;
  }
}

/** The counters of one upload: `content` for inflated bytes, `received` for bytes as sent. */
export class UploadBudget {
  private bytes = 0;
  private raw = 0;
  /** Content bytes the reserved GiB cover; -1 before the first reservation. */
  private covered = -1;
  private reserved = 0;
  /** The most content this upload could ever be allowed, and the compressed bytes that allows. */
  private readonly ceilingGib: number;
  private readonly rawLimit: number;
  private closed = false;

  constructor(private readonly owner: string, private readonly use: Usage, private readonly quota: Quota,
    private readonly maxVolumeGib: number, private readonly hold: OwnerHold, private readonly release: () => void) {
    this.ceilingGib = quota.gib === null ? maxVolumeGib : Math.min(maxVolumeGib, quota.gib - use.gib);
    this.rawLimit = compressedBound(gibToBytes(Math.max(0, this.ceilingGib)));
  }

  /** Counts `n` more bytes of content; throws VOLUME_TOO_LARGE or QUOTA_EXCEEDED past a limit. */
  content(n: number): void {
    this.bytes += n;
    if (this.bytes > this.covered) this.reserve();
  }

  /** Counts `n` more bytes as received (compressed): bounded too, or empty gzip members could fill the disk. */
  received(n: number): void {
    this.raw += n;
    if (this.raw > this.rawLimit) throw this.refusal(`${this.raw} bytes were received for at most ${this.ceilingGib} GiB of content`);
  }

  /** Gives back what the upload held of its owner's quota (once the volume is recorded, or not). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.hold.gib -= this.reserved;
    this.reserved = 0;
    this.release();
  }

  /** Reserves the whole GiB the content needs now, or refuses. */
  private reserve(): void {
    const needed = Math.max(1, Math.ceil(this.bytes / gibToBytes(1)));
    if (needed > this.maxVolumeGib) {
      throw new StratusError('VOLUME_TOO_LARGE', `the image is larger than this server's limit of ${this.maxVolumeGib} GiB per volume (max_volume_gib): the upload was stopped after ${this.bytes} bytes and nothing was kept`);
    }
    if (this.quota.gib !== null) {
      const others = this.hold.gib - this.reserved;
      if (this.use.gib + others + needed > this.quota.gib) {
        const inFlight = others > 0 ? ` and ${others} GiB in other uploads in progress` : '';
        throw new StratusError('QUOTA_EXCEEDED', `quota exceeded: ${this.owner} uses ${this.use.gib} GiB${inFlight} of a ${this.quota.gib} GiB quota; `
          + `this upload needs ${needed} GiB${this.bytes > 0 ? ` (stopped after ${this.bytes} bytes; nothing was kept)` : ''}`);
      }
    }
    this.hold.gib += needed - this.reserved;
    this.reserved = needed;
    this.covered = gibToBytes(needed);
  }

  private refusal(what: string): StratusError {
    const byQuota = this.quota.gib !== null && this.quota.gib - this.use.gib < this.maxVolumeGib;
    return byQuota
      ? new StratusError('QUOTA_EXCEEDED', `quota exceeded: ${what}, which is all the ${this.quota.gib} GiB quota of ${this.owner} leaves; the upload was stopped and nothing was kept`)
      : new StratusError('VOLUME_TOO_LARGE', `${what}, the limit of this server (max_volume_gib); the upload was stopped and nothing was kept`);
  }
}
