import type { SaveRequest } from '../domain/instance-wire.js';
import type { Entry } from '../metadata/entry/entry.js';
import type { DigestResult } from '../platform/hashing.js';
import type { VncSpec } from './vnc.js';

/** What an instance was given, kept as JSON on its row (instances.spec). */
export interface InstanceSpec {
  /** The type's name as asked for ('custom' when only figures were given). */
  type: string;
  contextMethod: 'cloud-init' | 'one';
  /** KEY=value pairs of the context, shown by describe -vvv as template_context_*. */
  context: Record<string, string>;
  networkModel?: string;
  /** Prolog made the disk (a snapshot): Epilog quarantines it. Otherwise it was the user's and is given back. */
  diskMade: boolean;
  /** run-instance's data disks, as asked for: a volume UUID, a Marketplace ID, GiB. */
  persistentDisk?: string;
  readonlyDisk?: string;
  volatileDiskGiB?: number;
  /** Its VNC server as asked for, and the password its owner is shown. */
  vnc?: VncSpec;
  /**
   * --save (§2.4): what the boot disk (always a snapshot Prolog made) becomes at shutdown. Kept
   * here so a restarted server still knows the instance is to be saved.
   */
  save?: SaveRequest;
  /** The entry of the image run, as it was then: the draft of the saved image is made from it (none for a volume or a plain URL). */
  saveParent?: Entry;
  /** Where the Epilog of a --save instance is: recorded before each step, so a restarted server resumes it. */
  saveState?: SaveState;
  /** The cached layer its disk started as (its key, and the id of the layer row then), if any. */
  layer?: { key: string; id: string };
  /** The booted base it resumed instead of booting (cloud/booted-bases.ts), if any. */
  booted?: string;
}

/**
 * The --save Epilog's progress. `detach`, `copy`, `publish`: the step to run next (a step that
 * was under way when the server died is run again from its start, after undoing what it left);
 * `done`: the image exists; `failed`: it does not, for `reason`, and the user keeps the snapshot.
 */
export interface SaveState {
  step: 'detach' | 'copy' | 'publish' | 'done' | 'failed';
  /** The new volume's UUID, chosen before the copy starts so that a half-made one can be found. */
  target?: string;
  /** From the copy: the saved bytes' size and digests, and when they were saved (the draft's created). */
  content?: DigestResult;
  at?: string;
  identifier?: string;
  marketplace?: string;
  reason?: string;
}

export function serializeSpec(spec: InstanceSpec): string {
  return JSON.stringify(spec);
}

/** The spec of a row; rows made before specs were kept read as a plain cloud-init instance. */
export function parseSpec(text: string | null): InstanceSpec {
  const fallback: InstanceSpec = { type: 'custom', contextMethod: 'cloud-init', context: {}, diskMade: false };
  if (!text) return fallback;
  try {
    return { ...fallback, ...(JSON.parse(text) as Partial<InstanceSpec>) };
  } catch {
    return fallback;
  }
}
