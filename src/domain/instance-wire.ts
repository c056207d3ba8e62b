import { StratusError } from './errors.js';
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
