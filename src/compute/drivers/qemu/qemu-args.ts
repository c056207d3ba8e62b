/**
 * The QEMU command line, as a pure function of what the instance needs. Every flag here has
 * a reason; the table tests in qemu-args.test.ts name them.
 */
import type { NetworkModel } from '../../../domain/instance-wire.js';

export interface DiskSpec {
  path: string;
  format: 'qcow2' | 'raw';
  readonly?: boolean;
}

/**
 * A data disk on a virtio-blk device of its own: a volume, or run-instance's volatile and
 * read-only disks. Its block node and device are named after `id` (`dev-<id>`) whether it was
 * on the command line or hot-plugged, so either kind is unplugged the same way.
 */
export interface DataDiskSpec extends DiskSpec {
  /** The block node's name: letters, digits, '-' and '_', starting with a letter. */
  id: string;
  /** What the guest reads as the disk's serial (/sys/block/vdX/serial, /dev/disk/by-id/virtio-<serial>). */
  serial: string;
}

/** virtio-blk answers the guest with at most 20 bytes of serial. */
export const SERIAL_BYTES = 20;

export interface PortForward {
  /** Port on the instance's loopback address. */
  host: number;
  /** Port inside the guest. */
  guest: number;
  proto?: 'tcp' | 'udp';
}

/** A host service the guest may reach: guest connects to 10.0.2.100:<guestPort>. */
export interface GuestService {
  guestPort: number;
  host: string;
  hostPort: number;
}

/** QEMU numbers VNC ports as displays above this one. */
export const VNC_BASE_PORT = 5900;

/**
 * A VNC server on `listen`, at port VNC_BASE_PORT + `display`, or, with `lastDisplay`, at the
 * first of the displays up to it that is free: QEMU binds it itself, so two instances started
 * at once never race for a port. With `password`, no client gets in until a password is set
 * through QMP (set_password): the server offers VNC authentication only.
 */
export interface VncSpec {
  listen: string;
  display: number;
  lastDisplay?: number;
  password?: boolean;
}

export interface VmSpec {
  name: string;
  /**
   * The machine's SMBIOS UUID (/sys/class/dmi/id/product_uuid), new for each VM: a disk saved
   * from one VM tells by it that it boots in another (the debian-12 image then forgets the old
   * VM's cloud-init state, see recipes/debian-12/overlay/usr/local/sbin/stratus-new-instance).
   */
  uuid?: string;
  accel: 'kvm' | 'tcg';
  vcpus: number;
  memoryMiB: number;
  /** The root disk: a copy-on-write overlay on the image. */
  root: DiskSpec;
  /** The NoCloud seed (cidata ISO), attached read-only. */
  seed?: DiskSpec;
  swap?: DiskSpec;
  /** Data disks, after the others: the boot disk stays first. Always virtio-blk, whatever `diskBus`. */
  data?: DataDiskSpec[];
  /** virtio (default), or ide / scsi for images whose metadata asks for them. */
  diskBus?: 'virtio' | 'ide' | 'scsi';
  /** The network card (default virtio). */
  nicModel?: NetworkModel;
  network: {
    /** The instance's address: its own "IP" in 127.0.0.0/8, or its lease on the bridge. */
    address: string;
    /** A TAP on the server's bridge (host-only network); without it, user-mode networking. */
    tap?: string;
    forwards: PortForward[];
    services?: GuestService[];
    mac: string;
  };
  /** A VNC server; none when absent. */
  vnc?: VncSpec;
  serialLog: string;
  qmpSocket: string;
  pidFile: string;
  /** TCG translation cache in MiB; the default (1 GiB) dominates an idle guest's memory. */
  tcgCacheMiB?: number;
  /**
   * The guest agent's channel (qemu-guest-agent's virtio-serial port), served on this unix
   * socket. A booted base and the VMs restored from it have it (compute/booted-base.ts).
   */
  agentSocket?: string;
  /** Runs QEMU at this nice level (19: a booted base made in the background yields to users' VMs). */
  nice?: number;
  /**
   * A booted base's saved state to start from instead of booting: the machine resumes where
   * the base stopped. Its devices must be the base's (the same spec but for paths and names).
   */
  incoming?: string;
}

/** QEMU's device for each network card model a user may ask for; nothing else reaches the command line. */
export const NIC_DEVICES: Readonly<Record<NetworkModel, string>> = { virtio: 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e', rtl8139: 'rtl8139' };

export function qemuArgs(s: VmSpec): string[] {
  const args: string[] = [
    '-name', `${s.name},process=stratus-${s.name}`,
    '-nodefaults', '-no-user-config',
    // Plain "pc": microvm calibrates badly under TCG and q35 buys nothing here (measured-here E1c).
    '-machine', 'pc',
    '-accel', s.accel === 'kvm' ? 'kvm' : `tcg${s.tcgCacheMiB ? `,tb-size=${s.tcgCacheMiB}` : ''}`,
    '-cpu', s.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(s.vcpus),
    ...(s.uuid !== undefined ? ['-uuid', checkedUuid(s.uuid)] : []),
    '-m', String(s.memoryMiB),
    '-rtc', 'base=utc',
    '-vga', 'std',
    '-display', 'none',
    '-serial', `file:${s.serialLog}`,
    '-qmp', `unix:${s.qmpSocket},server=on,wait=off`,
    '-pidfile', s.pidFile,
    // Entropy for the guest's first-boot key generation; without it SSH can wait for seconds.
    '-device', 'virtio-rng-pci',
  ];
  const bus = s.diskBus ?? 'virtio';
  if (bus === 'scsi') args.push('-device', 'virtio-scsi-pci,id=scsi0');
  const disks: Array<[string, DiskSpec]> = [['root', s.root]];
  if (s.seed) disks.push(['seed', { ...s.seed, readonly: true }]);
  if (s.swap) disks.push(['swap', s.swap]);
  disks.forEach(([id, d], i) => {
    const ro = d.readonly ? ',readonly=on' : '';
    args.push('-drive', `file=${escapeComma(d.path)},format=${d.format},if=none,id=${id},cache=writeback,discard=unmap${ro}`);
    const boot = i === 0 ? ',bootindex=0' : '';
    if (bus === 'ide') args.push('-device', `ide-hd,drive=${id}${boot}`);
    else if (bus === 'scsi') args.push('-device', `scsi-hd,drive=${id}${boot}`);
    else args.push('-device', `virtio-blk-pci,drive=${id}${boot}`);
  });
  for (const d of s.data ?? []) {
    // JSON, so no path needs escaping; the device's fields are checked by dataDevice.
    args.push('-blockdev', JSON.stringify(blockdevOf(d)));
    args.push('-device', Object.entries(dataDevice(d)).map(([k, v]) => (k === 'driver' ? v : `${k}=${v === true ? 'on' : String(v)}`)).join(','));
  }
  const net = s.network;
  if (net.tap) {
    // The bridge's firewall, not QEMU, decides what the guest reaches (src/network/).
    args.push('-netdev', `tap,id=net0,ifname=${net.tap},script=no,downscript=no`);
  } else {
    // restrict=on: the guest reaches nothing outside, except the services given via guestfwd.
    const fwd = net.forwards.map((f) => `,hostfwd=${f.proto ?? 'tcp'}:${net.address}:${f.host}-:${f.guest}`).join('');
    const svc = (net.services ?? []).map((g) => `,guestfwd=tcp:10.0.2.100:${g.guestPort}-tcp:${g.host}:${g.hostPort}`).join('');
    args.push('-netdev', `user,id=net0,restrict=on${fwd}${svc}`);
  }
  // No option ROM: iPXE would only slow the boot down, as the guest boots from its disk.
  args.push('-device', `${NIC_DEVICES[s.nicModel ?? 'virtio']},netdev=net0,mac=${net.mac},romfile=`);
  args.push('-vnc', s.vnc ? vncOption(s.vnc) : 'none');
  if (s.agentSocket !== undefined) {
    args.push('-chardev', `socket,id=agent0,path=${escapeComma(s.agentSocket)},server=on,wait=off`);
    args.push('-device', 'virtio-serial-pci,id=serial0', '-device', 'virtserialport,bus=serial0.0,chardev=agent0,name=org.qemu.guest_agent.0');
  }
  // QEMU 7.2 reads a saved state from a command only; the path is quoted for its shell.
  if (s.incoming !== undefined) args.push('-incoming', `exec:cat ${shellQuoted(s.incoming)}`);
  // A guest kernel panic reaches QEMU (pvpanic) and leaves it in state guest-panicked, which
  // the driver sees and fails at once instead of waiting out a readiness timeout.
  args.push('-device', 'pvpanic', '-action', 'panic=pause');
  return args;
}

function vncOption(v: VncSpec): string {
  const host = v.listen.includes(':') ? `[${v.listen}]` : v.listen;
  const to = v.lastDisplay !== undefined && v.lastDisplay > v.display ? `,to=${v.lastDisplay}` : '';
  return `${host}:${v.display}${to}${v.password ? ',password=on' : ''}`;
}

/**
 * The block node of a data disk (-blockdev, QMP blockdev-add). A read-only disk is opened
 * read-only down to its file, so QEMU could not write it even if asked.
 */
export function blockdevOf(d: DataDiskSpec): Record<string, unknown> {
  const ro = d.readonly === true;
  return {
    'node-name': checkedId(d.id), driver: d.format, 'read-only': ro, ...(ro ? {} : { discard: 'unmap' }),
    file: { driver: 'file', filename: d.path, 'read-only': ro, ...(ro ? {} : { discard: 'unmap' }) },
  };
}

/**
 * The virtio-blk device of a data disk (-device, QMP device_add). A read-only device shares
 * writes (share-rw): QEMU's image locks would otherwise keep the volume's owner from attaching
 * it read-write elsewhere while others read it, which the cloud allows (cloud/attachments.ts).
 */
export function dataDevice(d: DataDiskSpec): Record<string, string | boolean> {
  if (!/^[A-Za-z0-9._-]{1,20}$/.test(d.serial)) throw new Error(`disk serial ${JSON.stringify(d.serial)}: 1-${SERIAL_BYTES} of A-Z a-z 0-9 . _ -`);
  return { driver: 'virtio-blk-pci', drive: checkedId(d.id), id: `dev-${d.id}`, serial: d.serial, ...(d.readonly ? { 'share-rw': true } : {}) };
}

function checkedId(id: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,30}$/.test(id)) throw new Error(`disk id ${JSON.stringify(id)}: a letter, then letters, digits, - and _`);
  return id;
}

/** A path as one word for /bin/sh (QEMU runs exec: migrations through it). */
export function shellQuoted(path: string): string {
  return `'${path.replace(/'/g, `'\\''`)}'`;
}

/** QEMU option values separate fields with commas; a comma in a path is doubled. */
function escapeComma(path: string): string {
  return path.replace(/,/g, ',,');
}

/** A stable, locally administered MAC for an instance name. */
function checkedUuid(uuid: string): string {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) throw new Error(`machine UUID ${JSON.stringify(uuid)} is not a UUID`);
  return uuid;
}

export function macFor(name: string): string {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  const b = [(h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff];
  return ['52', '54', '00', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}
