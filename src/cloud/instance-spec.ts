import type { SaveRequest } from '../domain/instance-wire.js';
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
