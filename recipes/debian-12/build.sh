#!/bin/bash
# build.sh - build the "debian-12" base image: a self-contained, BIOS-bootable raw disk
# made from Debian 12 (bookworm) packages with mmdebstrap:
#
#   sector 0           syslinux mbr.bin + MBR partition table (sfdisk), fixed disk id
#   partition 1 FAT16  active, label STRATUSBOOT: ldlinux.sys/.c32, syslinux.cfg, and the
#                      kernel + initrd copied from the rootfs /boot
#   partition 2 ext4   label stratus-root: the root file system. It is the last partition,
#                      so cloud-init's growpart/resizefs grow it into a bigger disk.
#
# The disk image itself is written without mounting anything (sfdisk, mkfs.fat --offset,
# mcopy, syslinux --offset, mkfs.ext4 -d -E offset=). mmdebstrap --mode=root needs root:
# it mounts /proc and /dev in the chroot while the packages install.
#
# usage: build.sh OUTDIR   writes OUTDIR/disk.img and OUTDIR/manifest.txt
#        (stratus-build-base-image runs it; it caches the result by recipe + package versions)
# env:   DISK_MB=2048 BOOT_MB=64   SOURCE_DATE_EPOCH=1700000000   KERNEL_PACKAGE (recipe.json)
#        INBOUND_PORTS (recipe.json inboundPorts, checked against the firewall)
#        MIRROR=http://deb.debian.org/debian  SECMIRROR=http://deb.debian.org/debian-security
set -euo pipefail
umask 022   # modes of the files the build creates must not depend on the caller

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mkdir -p "${1:?usage: build.sh OUTDIR}" && cd "$1" && pwd)
WORK=$OUT/work
R=$WORK/rootfs
IMG=$OUT/disk.img
DISK_MB=${DISK_MB:-2048}
BOOT_MB=${BOOT_MB:-64}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${SECMIRROR:-http://deb.debian.org/debian-security}
KERNEL=${KERNEL_PACKAGE:-linux-image-cloud-amd64}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
ROOT_LABEL=stratus-root
BOOT_LABEL=STRATUSBOOT
ROOT_UUID=${ROOT_UUID:-7e1a0c55-5d2b-4c3e-9a51-0de6b1a2c012}
DISK_ID=0x5a7a05d6
APPEND="root=LABEL=$ROOT_LABEL ro console=tty0 console=ttyS0,115200 quiet"
export LC_ALL=C TZ=UTC MTOOLS_SKIP_CHECK=1 PYTHONHASHSEED=0

[ "$(id -u)" = 0 ] || { echo "debian-12 must be built as root: mmdebstrap --mode=root mounts /proc in the chroot (run npm run setup as root)" >&2; exit 1; }
. "$HERE/../lib/disk.sh"
need_tools mmdebstrap sfdisk mkfs.fat mcopy mdir syslinux mkfs.ext4 debugfs apt-cache
need_files /usr/lib/syslinux/mbr/mbr.bin
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
apt-cache show "$KERNEL" >/dev/null 2>&1 || { echo "no kernel: package $KERNEL is not in the archive (check recipe.json \"kernel\", then apt-get update)" >&2; exit 1; }

rm -rf "$WORK"; mkdir -p "$WORK"
touch "$WORK/build-start"          # files newer than this were created by the build

# initramfs settings, in place before the kernel's postinst builds the initrd
cat >"$WORK/initramfs.conf" <<EOF
# Stratus image: only the modules added by hooks/stratus-virtio (virtio, SCSI, SATA)
MODULES=list
COMPRESS=zstd
# So that the fsck hook puts e2fsck in the initramfs (it cannot probe the label at build time)
FSTYPE=ext4
EOF

# ------------------------------------------------------------ 1. root file system --
# The packages are recipe.json's (PACKAGES), the list whose versions key the cache. Why each:
# the cloud kernel (virtio, no hardware drivers); systemd, udev and dbus (logind turns the ACPI
# power button into poweroff); iproute2 and systemd-resolved (networkd, which cloud-init renders
# for, and DNS from DHCP); cloud-init and cloud-guest-utils (growpart); e2fsprogs and fdisk
# (resize2fs, e2fsck, sfdisk for growpart on MBR); openssh-server and openssh-sftp-server
# (OpenSSH 9's scp speaks SFTP); nftables; netbase, ca-certificates, apt; zstd (initramfs);
# qemu-guest-agent (udev starts it only when QEMU gives its channel: a booted base's VMs).
# Suites given explicitly and stdin from /dev/null: with a non-tty stdin mmdebstrap would
# read sources.list lines from it. No Recommends (mmdebstrap's default).
read -ra PKGS <<<"${PACKAGES:?PACKAGES (from recipe.json) is empty}"
case " ${PKGS[*]} " in *" $KERNEL "*) ;; *) PKGS=("$KERNEL" "${PKGS[@]}") ;; esac
step "mmdebstrap: ${#PKGS[@]} packages and their dependencies from $MIRROR"
INITRAMFS_CONF=$WORK/initramfs.conf \
mmdebstrap --mode=root --variant=minbase \
  --include="$(IFS=,; echo "${PKGS[*]}")" \
  --essential-hook="'$HERE/essential.sh' \"\$1\"" \
  --customize-hook="'$HERE/customize.sh' \"\$1\" '$WORK/manifest.txt'" \
  bookworm "$R" \
  "deb $MIRROR bookworm main" \
  "deb $MIRROR bookworm-updates main" \
  "deb $SECMIRROR bookworm-security main" \
  </dev/null >"$WORK/mmdebstrap.log" 2>&1 || { tail -n 30 "$WORK/mmdebstrap.log" >&2; exit 1; }
# apt's download folders belong to _apt (mode 0700); whether mmdebstrap's clean-up leaves them
# to root or to _apt varies between runs, and the image bytes must not.
apt_uid=$(awk -F: '$1 == "_apt" {print $3}' "$R/etc/passwd")
for d in var/lib/apt/lists/partial var/cache/apt/archives/partial; do
  mkdir -p "$R/$d"; chown "${apt_uid:-0}:0" "$R/$d"; chmod 0700 "$R/$d"
done
step "root file system: $(du -sm "$R" | cut -f1) MiB, $(wc -l <"$WORK/manifest.txt") packages"

# What the image must and must not contain: checked here, not hoped for.
KVER=$(ls "$R/lib/modules" | sort -V | tail -n1)
[ -n "$KVER" ] && [ -s "$R/boot/vmlinuz-$KVER" ] && [ -s "$R/boot/initrd.img-$KVER" ] || { echo "no kernel: $KERNEL installed no /boot/vmlinuz-* with an initrd" >&2; exit 1; }
[ ! -s "$R/etc/machine-id" ] || { echo "machine-id is not empty" >&2; exit 1; }
! ls "$R"/etc/ssh/ssh_host_* >/dev/null 2>&1 || { echo "SSH host keys are in the image" >&2; exit 1; }
[ -z "$(ls -A "$R/var/cache/apt/archives" | grep -v -e '^partial$' -e '^lock$' || true)" ] || { echo "apt cache not empty" >&2; exit 1; }
[ -z "$(ls -A "$R/var/lib/apt/lists" | grep -v -e '^partial$' -e '^lock$' || true)" ] || { echo "apt lists not empty" >&2; exit 1; }
[ ! -e "$R/etc/udev/rules.d/70-persistent-net.rules" ] || { echo "persistent-net rules in the image" >&2; exit 1; }
! grep -q '^root:[^*!]' "$R/etc/shadow" || { echo "root has a password" >&2; exit 1; }
# The firewall admits exactly the ports the entry will publish as inbound-port.
fw_ports=$(sed -n 's/^[[:space:]]*elements = { \(.*\) }$/\1/p' "$R/etc/nftables.conf" | head -n1 | tr -d ' ')
[ "$fw_ports" = "$(echo "${INBOUND_PORTS:-22}" | tr ' ' ',')" ] || { echo "the firewall admits '$fw_ports' but recipe.json inboundPorts is '${INBOUND_PORTS:-22}': make /etc/nftables.conf's tcp_ports and inboundPorts agree" >&2; exit 1; }
step "kernel $KVER, initrd $(stat -c %s "$R/boot/initrd.img-$KVER") bytes; no machine-id, host keys, apt caches or passwords"

# ---------------------------------------------------------------- 2. disk image --
B=$WORK/bootpart; mkdir -p "$B"
cat >"$B/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND $APPEND
LABEL old
  KERNEL /vmlinuz.old
  INITRD /initrd.img.old
  APPEND $APPEND
EOF
cp "$R/boot/vmlinuz-$KVER" "$B/vmlinuz"
cp "$R/boot/initrd.img-$KVER" "$B/initrd.img"
echo "$KVER" >"$B/version"
boot_disk "$IMG" "$DISK_MB" "$BOOT_MB" "$DISK_ID" "$BOOT_LABEL" "$MBR_BIN" "$WORK/mkfs.fat.log" \
  "$B/syslinux.cfg" "$B/vmlinuz" "$B/initrd.img" "$B/version"

# Root partition. Files from .debs keep their packaged mtimes (.pyc files record their
# .py's mtime); what the build created or changed gets SOURCE_DATE_EPOCH.
find "$R" -newer "$WORK/build-start" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -T default -L $ROOT_LABEL -U $ROOT_UUID \
  -E "offset=$ROOT_OFFSET,hash_seed=$ROOT_UUID,root_owner=0:0" \
  -d "$R" "$IMG" "${ROOT_KIB}k"
step "root partition written"
pin_times "$IMG" "$R" "$WORK/debugfs.log" "ctime atime crtime" "ctime atime crtime mtime"
e2fsck -fn "$IMG?offset=$ROOT_OFFSET" >"$WORK/e2fsck.log" 2>&1 || { tail -n 20 "$WORK/e2fsck.log" >&2; echo "the root file system does not check clean" >&2; exit 1; }
sparse "$IMG"
cp "$WORK/manifest.txt" "$OUT/manifest.txt"
step "done: $(du -m --apparent-size "$IMG" | cut -f1) MiB, $(du -m "$IMG" | cut -f1) MiB allocated"
