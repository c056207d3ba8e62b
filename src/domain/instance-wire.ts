import { StratusError } from './errors.js';
import { formatUtc } from './dates.js';
import type { InstanceState } from './instance.js';

/** The network card models a VM can have (--vm-network-model), by their libvirt/OpenNebula names. */
export const NETWORK_MODELS = ['virtio', 'e1000', 'e1000e', 'rtl8139'] as const;
export type NetworkModel = (typeof NETWORK_MODELS)[number];

/** `text` as a network card model; `what` names where it came from in the error. */
export function networkModelOf(text: string, what: string): NetworkModel {
  const model = NETWORK_MODELS.find((m) => m === text);
  if (model) return model;
  throw new StratusError('USAGE', `${what} must be ${NETWORK_MODELS.join(', ')}, not ${text}`, {
    hint: 'virtio is the default and the fastest; e1000 or rtl8139 suit guests without virtio drivers.',
  });
}

/**
 * What a `--save` instance is to become at shutdown (§2.4): the new image's author, e-mail,
 * title, description (--comment) and version, and where its draft entry goes.
 */
export interface SaveRequest {
  author: string;
  authorEmail: string;
  title: string;
  comment: string;
  imageVersion: string;
  /** --marketplace-endpoint-newimage: the Marketplace the draft goes to (default: the site's). */
  marketplace?: string;
}

/** The longest text a --save field may hold (they go into the draft entry and the volume's tag). */
export const SAVE_FIELD_MAX = 1024;

/**
 * A --save request's fields checked: each present, non-blank and bounded, the e-mail an
 * address, the Marketplace an http(s) URL. `names` are the options (CLI) or fields (API) the
 * errors name; `prefix` starts the message for a missing one.
 */
export function checkSaveRequest(s: Partial<Record<keyof SaveRequest, unknown>>, names: Record<keyof SaveRequest, string>, prefix: string): SaveRequest {
  const text = (k: keyof SaveRequest, what: string): string => {
    const v = s[k];
    if (typeof v !== 'string' || v.trim() === '') throw new StratusError('USAGE', `${prefix}${what} (${names[k]})`);
    if (v.length > SAVE_FIELD_MAX) throw new StratusError('USAGE', `${names[k]} is longer than ${SAVE_FIELD_MAX} characters`);
    return v.trim();
  };
  const author = text('author', 'the author of the new image');
  const authorEmail = text('authorEmail', "the author's e-mail address");
  const imageVersion = text('imageVersion', 'the version of the new image');
  const title = text('title', 'a title for the new image');
  const comment = text('comment', 'a comment describing the new image');
  if (!/^[^\s@]+@[^\s@]+$/.test(authorEmail)) throw new StratusError('USAGE', `${names.authorEmail} must be an e-mail address, not ${authorEmail}`);
  const mp = s.marketplace;
  if (mp !== undefined && (typeof mp !== 'string' || !/^https?:\/\/[^\s]+$/.test(mp))) {
    throw new StratusError('USAGE', `${names.marketplace} must be an http(s) URL, not ${String(mp)}`);
  }
  return { author, authorEmail, title, comment, imageVersion, ...(mp !== undefined ? { marketplace: mp as string } : {}) };
}

/** The name StratusLab gave a --save VM: `creator: <UTC time>` (the seed shows `creator: 2012-12-04T07:58:25Z`). */
export function saveVmName(now: Date): string {
  return `creator: ${formatUtc(now)}`;
}

/** What `POST /instances` takes: one or more VMs of one image (stratus-run-instance's options). */
export interface RunInstancesRequest {
  /** A Marketplace ID, a pdisk volume UUID, or a URL (of a Marketplace entry, a pdisk volume, or a plain image). */
  image: string;
  /** A plain URL's image format (--qcow-disk-format: qcow2; default raw); ignored for the other forms. */
  diskFormat?: 'raw' | 'qcow2';
  /** How many VMs (default 1). */
  count?: number;
  /** The type's name, as shown back; the figures below are what counts. */
  type?: string;
  cpu: number;
  ramMiB: number;
  swapMiB?: number;
  name?: string;
  /** OpenSSH public keys for root. */
  sshKeys?: string[];
  /** cloud-init user-data, base64 (a script, #cloud-config, MIME multipart, or gzip of these). */
  userData?: string;
  contextMethod?: 'cloud-init' | 'one';
  /** KEY=value context pairs (--context, --context-file), for the `one` method and describe -vvv. */
  context?: Record<string, string>;
  diskBus?: 'ide' | 'scsi' | 'virtio';
  /** The network card (default virtio): old guests without virtio drivers need e1000 or rtl8139. */
  networkModel?: NetworkModel;
  /** A pdisk volume attached to each VM from the start (--persistent-disk). */
  persistentDisk?: string;
  /** Another Marketplace image, attached read-only (--readonly-disk). */
  readonlyDisk?: string;
  /** An empty disk of this many GiB, removed with the VM (--volatile-disk). */
  volatileDiskGiB?: number;
  /** The VNC server's port (--vnc-port); -1, the default, lets the cloud pick a free one. */
  vncPort?: number;
  /** The address the VNC server listens on (--vnc-listen); loopback (127.0.0.1) by default. */
  vncListen?: string;
  /** --save: the root disk becomes a new image at shutdown (§2.4). */
  save?: SaveRequest;
  /**
   * The key of one of the caller's cached layers (POST /instances/<id>/layers): each VM's disk
   * starts as that layer instead of the bare image, which must be the image it was made over.
   */
  layer?: string;
  /**
   * Resume the server's booted base of the image when it has one (a VM of the same shape, booted
   * once and saved running): seconds instead of a boot. Only for a plain start (NoCloud context
   * with keys only, no user-data, no extra disks, no swap, virtio); otherwise, or when there is
   * none yet, the VM boots as usual, and the server makes one for the next start.
   */
  booted?: boolean;
}

/** A layer just saved from an instance: its key and the size of its file. */
export interface LayerSaved {
  key: string;
  bytes: number;
}

/** One of the caller's cached layers. */
export interface LayerInfo extends LayerSaved {
  created: string;
}

/** Where a running instance's VNC server listens; the password is shown to the instance's owner only. */
export interface VncEndpoint {
  address: string;
  port: number;
  password?: string;
}

/** A volume attached to an instance (stratus-attach-volume), as the API shows it. */
export interface VolumeAttachment {
  /** The volume's UUID. */
  volume: string;
  vmId: number;
  /** The device pdisk recorded (vdz, vdy, …): StratusLab's `/dev/<target>`. */
  target: string;
  readOnly: boolean;
  /** What the guest reads as the disk's serial: the first 20 characters of the UUID. */
  serial: string;
  created: string;
}

/** An instance as the API shows it. */
export interface InstanceInfo {
  id: number;
  name: string;
  owner: string;
  state: InstanceState;
  /** Why it failed or went Unknown. */
  message: string | null;
  image: string;
  /** The pdisk volume it boots from. */
  disk: string | null;
  type: string;
  cpu: number;
  ramMiB: number;
  swapMiB: number;
  /** Its "Public ip". */
  address: string | null;
  /** Monitored by the host while it runs: QEMU's resident memory (KiB) and CPU use (% of one CPU). */
  memoryKiB: number;
  cpuPercent: number;
  /** Its VNC server while QEMU runs it; null otherwise. */
  vnc: VncEndpoint | null;
  created: string;
  updated: string;
}
