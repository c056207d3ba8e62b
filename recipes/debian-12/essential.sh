#!/bin/sh
# essential.sh ROOTFS - mmdebstrap --essential-hook: runs after the Essential packages
# are unpacked and before the --include packages (kernel, cloud-init, ...) are installed,
# so that the kernel's postinst builds the initramfs with our settings:
#   conf.d/stratus.conf  MODULES=list + compression (written by build.sh)
#   hooks/stratus-virtio the disk drivers to include
#   /etc/fstab           root fs with fsck pass 1: initramfs-tools' fsck hook then
#                        puts e2fsck in the initramfs and the root is checked there
#                        (systemd-fsck-root.service is skipped on the booted system)
set -eu
R=$1
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$R/etc/initramfs-tools/conf.d"
. "$HERE/../lib/copy-tree.sh"
copy_tree "$HERE/overlay/etc/initramfs-tools" "$R/etc/initramfs-tools"
cp "$INITRAMFS_CONF" "$R/etc/initramfs-tools/conf.d/stratus.conf"
chmod 644 "$R/etc/initramfs-tools/conf.d/stratus.conf"
cp "$HERE/overlay/etc/fstab" "$R/etc/fstab"
