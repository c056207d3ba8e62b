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
for t in mmdebstrap sfdisk mkfs.fat mcopy mdir syslinux mkfs.ext4 debugfs apt-cache; do
  command -v $t >/dev/null || { echo "missing host tool: $t (npm run setup installs it)" >&2; exit 1; }
done
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
[ -f $MBR_BIN ] || { echo "missing $MBR_BIN (package syslinux-common)" >&2; exit 1; }
apt-cache show "$KERNEL" >/dev/null 2>&1 || { echo "no kernel: package $KERNEL is not in the archive (check recipe.json \"kernel\", then apt-get update)" >&2; exit 1; }

t0=$(date +%s.%N)
step() { printf '[%6.2fs] %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{print a-b}')" "$*"; }

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
# Suites given explicitly and stdin from /dev/null: with a non-tty stdin mmdebstrap would
# read sources.list lines from it. No Recommends (mmdebstrap's default).
PKGS=(
  "$KERNEL"                            # Debian's cloud kernel (virtio, no hardware drivers)
  systemd systemd-sysv udev dbus       # dbus: logind turns the ACPI power button into poweroff
  iproute2 systemd-resolved            # networkd (cloud-init renders for it) + DNS from DHCP
  cloud-init cloud-guest-utils         # real cloud-init + growpart
  e2fsprogs fdisk                      # resize2fs, e2fsck, sfdisk (growpart on MBR)
  openssh-server openssh-sftp-server   # sftp-server: OpenSSH 9's scp speaks SFTP
  nftables netbase ca-certificates apt zstd
)
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
step "kernel $KVER, initrd $(stat -c %s "$R/boot/initrd.img-$KVER") bytes; no machine-id, host keys, apt caches or passwords"

# ---------------------------------------------------------------- 2. disk image --
P1_START=2048; P1_SIZE=$((BOOT_MB * 2048))
P2_START=$((P1_START + P1_SIZE)); P2_SIZE=$((DISK_MB * 2048 - P2_START))
rm -f "$IMG"; truncate -s "${DISK_MB}M" "$IMG"
sfdisk -q "$IMG" <<EOF
label: dos
label-id: $DISK_ID
unit: sectors
start=$P1_START, size=$P1_SIZE, type=6, bootable
start=$P2_START, size=$P2_SIZE, type=83
EOF

# FAT16 boot partition at its offset (-h: hidden sectors, which SYSLINUX needs to know)
mkfs.fat -F 16 -n $BOOT_LABEL --invariant -h $P1_START --offset $P1_START \
  "$IMG" $((P1_SIZE / 2)) >"$WORK/mkfs.fat.log" 2>&1 || { cat "$WORK/mkfs.fat.log" >&2; exit 1; }
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
touch -d "@$SOURCE_DATE_EPOCH" "$B"/*
mcopy -m -i "$IMG@@$((P1_START * 512))" "$B/syslinux.cfg" "$B/vmlinuz" "$B/initrd.img" "$B/version" ::/
syslinux --install --offset $((P1_START * 512)) "$IMG"
dd if=$MBR_BIN of="$IMG" bs=440 count=1 conv=notrunc status=none   # boot code only; the table stays
step "boot partition: $(mdir -i "$IMG@@$((P1_START * 512))" -b :: | xargs -n1 basename | xargs)"

# Root partition. Files from .debs keep their packaged mtimes (.pyc files record their
# .py's mtime); what the build created or changed gets SOURCE_DATE_EPOCH.
find "$R" -newer "$WORK/build-start" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -T default -L $ROOT_LABEL -U $ROOT_UUID \
  -E "offset=$((P2_START * 512)),hash_seed=$ROOT_UUID,root_owner=0:0" \
  -d "$R" "$IMG" "$((P2_SIZE / 2))k"
step "root partition written"
# mkfs -d copies ctime/atime from the build host: pin them too
(cd "$R" && find . | sed 's|^\.||; s|^$|/|' | while IFS= read -r f; do
  printf 'sif "%s" ctime @%s\nsif "%s" atime @%s\nsif "%s" crtime @%s\n' \
    "$f" "$SOURCE_DATE_EPOCH" "$f" "$SOURCE_DATE_EPOCH" "$f" "$SOURCE_DATE_EPOCH"
done; for x in ctime atime crtime mtime; do echo "sif /lost+found $x @$SOURCE_DATE_EPOCH"; done
) >"$WORK/pin-times.debugfs"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH debugfs -w -f "$WORK/pin-times.debugfs" \
  "$IMG?offset=$((P2_START * 512))" >"$WORK/debugfs.log" 2>&1
e2fsck -fn "$IMG?offset=$((P2_START * 512))" >"$WORK/e2fsck.log" 2>&1 || { tail -n 20 "$WORK/e2fsck.log" >&2; echo "the root file system does not check clean" >&2; exit 1; }
# mkfs leaves the journal as allocated zeros: make the image sparse again
cp --sparse=always "$IMG" "$IMG.tmp" && mv "$IMG.tmp" "$IMG"
cp "$WORK/manifest.txt" "$OUT/manifest.txt"
step "done: $(du -m --apparent-size "$IMG" | cut -f1) MiB, $(du -m "$IMG" | cut -f1) MiB allocated"
