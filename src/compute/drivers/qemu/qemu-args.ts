/**
 * The QEMU command line, as a pure function of what the instance needs. Every flag here has
 * a reason; the table tests in qemu-args.test.ts name them.
 */
export interface DiskSpec {
  path: string;
  format: 'qcow2' | 'raw';
  readonly?: boolean;
}

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

export interface VmSpec {
  name: string;
  accel: 'kvm' | 'tcg';
  vcpus: number;
  memoryMiB: number;
  /** The root disk: a copy-on-write overlay on the image. */
  root: DiskSpec;
  /** The NoCloud seed (cidata ISO), attached read-only. */
  seed?: DiskSpec;
  swap?: DiskSpec;
  /** virtio (default), or ide / scsi for images whose metadata asks for them. */
  diskBus?: 'virtio' | 'ide' | 'scsi';
  network: {
    /** The instance's address: its own "IP" in 127.0.0.0/8, or its lease on the bridge. */
    address: string;
    /** A TAP on the server's bridge (host-only network); without it, user-mode networking. */
    tap?: string;
    forwards: PortForward[];
    services?: GuestService[];
    mac: string;
  };
  /** VNC display on the instance address (port 5900 + display). */
  vncDisplay?: number;
  serialLog: string;
  qmpSocket: string;
  pidFile: string;
  /** TCG translation cache in MiB; the default (1 GiB) dominates an idle guest's memory. */
  tcgCacheMiB?: number;
}

export function qemuArgs(s: VmSpec): string[] {
  const args: string[] = [
    '-name', `${s.name},process=stratus-${s.name}`,
    '-nodefaults', '-no-user-config',
    // Plain "pc": microvm calibrates badly under TCG and q35 buys nothing here (measured-here E1c).
    '-machine', 'pc',
    '-accel', s.accel === 'kvm' ? 'kvm' : `tcg${s.tcgCacheMiB ? `,tb-size=${s.tcgCacheMiB}` : ''}`,
    '-cpu', s.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(s.vcpus),
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
  args.push('-device', `virtio-net-pci,netdev=net0,mac=${net.mac},romfile=`);
  // On the bridge the guest's address is not the host's: VNC stays on loopback.
  args.push('-vnc', s.vncDisplay === undefined ? 'none' : `${net.tap ? '127.0.0.1' : net.address}:${s.vncDisplay}`);
  // A guest kernel panic reaches QEMU (pvpanic) and leaves it in state guest-panicked, which
  // the driver sees and fails at once instead of waiting out a readiness timeout.
  args.push('-device', 'pvpanic', '-action', 'panic=pause');
  return args;
}

/** QEMU option values separate fields with commas; a comma in a path is doubled. */
function escapeComma(path: string): string {
  return path.replace(/,/g, ',,');
}

/** A stable, locally administered MAC for an instance name. */
export function macFor(name: string): string {
  let h = 2166136261;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  const b = [(h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff];
  return ['52', '54', '00', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}
