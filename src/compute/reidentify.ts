import { randomBytes } from 'node:crypto';
import { StratusError } from '../domain/errors.js';
import type { GuestAgent } from './drivers/qemu/guest-agent.js';

/** Who a VM restored from a booted base becomes (everything the base's own boot made for itself). */
export interface Identity {
  hostname: string;
  /** root's authorized keys. */
  sshKeys: string[];
  /** On the bridge: the instance's MAC and fixed address (/24, with the bridge's address as gateway). */
  network?: { mac: string; address: string; gateway: string };
  /** Seconds since the epoch: the guest's clock stopped when the base was saved. */
  now: number;
}

/**
 * The guest side, run by the agent as root with /bin/sh. A restored VM is a copy of the
 * base's running memory, so each thing the base made for itself is made again here:
 * 1. the clock, stopped when the base was saved (apt refuses Release files from the future);
 * 2. the kernel's random state: the host's entropy mixed in, then a reseed (RNDRESEEDCRNG),
 *    before anything below draws from it;
 * 3. SSH host keys of the types the base had, so no two VMs share one; sshd re-reads them on
 *    SIGHUP (reload);
 * 4. root's authorized keys (the rest of standard input) and the hostname;
 * 5. on the bridge, the instance's MAC and address: a runtime networkd file (/run, so a saved
 *    disk keeps none of it) sorts before cloud-init's, which names the base's MAC. It turns
 *    off the DHCP the base was saved with, and the MAC changes only once networkd has applied
 *    it (it does so in the background): changed first, the base's DHCP client asked again with
 *    the new MAC and was leased this very address, and networkd's removal of that lease then
 *    raced the static address and took it away (a VM no one could reach). The script waits
 *    until the link has this address alone and the default route, asking networkd again if
 *    not, and fails rather than tell the host that a VM runs that no one can reach.
 */
export const REIDENTIFY = `set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
now=$1 host=$2 mac=$3 address=$4 gateway=$5
date -u -s "@$now" >/dev/null
IFS= read -r entropy
printf '%s' "$entropy" >/dev/urandom
perl -e 'open(my $f, ">", "/dev/urandom") or die "urandom: $!\\n"; ioctl($f, 0x5207, 0) or die "RNDRESEEDCRNG: $!\\n"'
for key in /etc/ssh/ssh_host_*_key; do
  [ -e "$key" ] || continue
  type=\${key#/etc/ssh/ssh_host_}; type=\${type%_key}
  rm -f "$key" "$key.pub"
  ssh-keygen -q -t "$type" -N '' -C "root@$host" -f "$key"
done
umask 077
mkdir -p /root/.ssh
cat >/root/.ssh/authorized_keys
umask 022
hostname "$host"
echo "$host" >/etc/hostname
if [ -n "$mac" ]; then
  dev=
  for d in /sys/class/net/*; do
    [ "\${d##*/}" = lo ] || { dev=\${d##*/}; break; }
  done
  [ -n "$dev" ] || { echo "no network interface" >&2; exit 3; }
  mkdir -p /run/systemd/network
  printf '[Match]\\nName=%s\\n\\n[Network]\\nDHCP=no\\nLinkLocalAddressing=no\\nIPv6AcceptRA=no\\nAddress=%s\\nGateway=%s\\n' "$dev" "$address" "$gateway" >/run/systemd/network/05-stratus-instance.network
  addresses() { ip -4 -o addr show dev "$dev" | awk '{print $4}' | tr '\\n' ' '; }
  settle() {
    i=0
    until [ "$(addresses)" = "$address " ] && ip -4 route show default | grep -q "via $gateway "; do
      i=$((i + 1))
      case $i in
        50) networkctl reconfigure "$dev" || true ;;
        150) ip -4 addr flush dev "$dev" || true; networkctl reconfigure "$dev" || true ;;
        300) networkctl --no-pager status "$dev" >&2 || true
             echo "the network did not take address $address on $dev (it has: $(addresses))" >&2
             exit 4 ;;
      esac
      sleep 0.2
    done
  }
  networkctl reload
  networkctl reconfigure "$dev"
  settle
  ip link set dev "$dev" address "$mac"
  settle
fi
if systemctl is-active --quiet ssh; then systemctl reload ssh; fi
`;

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The arguments and standard input of REIDENTIFY, every value checked: they reach a root shell. */
export function reidentifyCommand(id: Identity, entropy: Buffer = randomBytes(64)): { args: string[]; input: string } {
  if (!HOSTNAME.test(id.hostname)) throw new Error(`hostname ${JSON.stringify(id.hostname)} is not a host name`);
  if (!Number.isSafeInteger(id.now) || id.now <= 0) throw new Error(`time ${id.now} is not seconds since the epoch`);
  const n = id.network;
  if (n && (!MAC.test(n.mac) || !IPV4.test(n.address) || !IPV4.test(n.gateway))) throw new Error(`network ${JSON.stringify(n)} is not a MAC and two IPv4 addresses`);
  for (const k of id.sshKeys) if (/[\r\n]/.test(k)) throw new Error('an SSH key spans lines');
  const args = ['-c', REIDENTIFY, 'reidentify', String(id.now), id.hostname, n?.mac ?? '', n ? `${n.address}/24` : '', n?.gateway ?? ''];
  const keys = id.sshKeys.map((k) => `${k.trim()}\n`).join('');
  return { args, input: `${entropy.toString('hex')}\n${keys}` };
}

/** Makes the restored guest the VM `id` says, through its agent; fails with what the guest said. */
export async function reidentify(agent: GuestAgent, id: Identity, timeoutMs = 120_000): Promise<void> {
  const { args, input } = reidentifyCommand(id);
  const r = await agent.exec('/bin/sh', args, { input, timeoutMs });
  if (r.code !== 0) {
    throw new StratusError('INSTANCE_FAILED', `the VM restored from its booted base could not take its own identity (exit status ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  }
}
