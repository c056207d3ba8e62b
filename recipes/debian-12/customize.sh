#!/bin/sh
# customize.sh ROOTFS MANIFEST - mmdebstrap --customize-hook for the Stratus debian-12 image.
# Runs on the build host after all packages are installed, with ROOTFS/proc, /sys and
# /dev still mounted by mmdebstrap (so "chroot ROOTFS cmd" works).
set -eu
R=$1
MANIFEST=${2:?usage: customize.sh ROOTFS MANIFEST}
HERE=$(cd "$(dirname "$0")" && pwd)

# ---- our configuration files (shown in the report; all owned by root) ----------
. "$HERE/../lib/copy-tree.sh"
copy_tree "$HERE/overlay" "$R"
copy_tree "$HERE/../lib/firewall" "$R"     # nftables.conf, nftables.d/, open-port: shared with ttylinux
mkdir -p "$R/boot/syslinux"            # mount point of the FAT boot partition

# ---- services -------------------------------------------------------------------
# systemd-networkd (cloud-init renders .network files for it), DNS from DHCP through
# systemd-resolved.
chroot "$R" systemctl enable systemd-networkd.service systemd-networkd-wait-online.service \
	systemd-resolved.service
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$R/etc/resolv.conf"
# firewall, loaded before the network comes up (nftables.service: Before=network-pre.target)
chroot "$R" systemctl enable nftables.service
# the package proxy named by an OpenNebula context (NoCloud gives it as vendor-data)
chroot "$R" systemctl enable stratus-apt-proxy.service
# a disk saved from one VM and booted in another is a new cloud-init instance
chroot "$R" systemctl enable stratus-new-instance.service
# Nothing periodic that a short-lived cloud VM does not need (these also start disk
# and CPU heavy jobs shortly after boot under emulation).
for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
	e2scrub_reap.service fstrim.timer man-db.timer; do
	if [ -e "$R/lib/systemd/system/$u" ]; then chroot "$R" systemctl mask "$u"; fi
done
# No passwords anywhere, so a login prompt on the VGA console is useless (the
# serial console getty stays: it costs nothing and helps with debugging).
chroot "$R" systemctl mask getty@tty1.service
# cloud-init: the config-stage modules run in the final stage (see 90-stratus.cfg)
chroot "$R" systemctl mask cloud-config.service
# Boot-time trimming (each of these is a process started early in the boot, in
# parallel with cloud-init's start-up): modules are loaded on demand anyway, and
# nobody needs binfmt_misc in a cloud VM.
chroot "$R" systemctl mask modprobe@dm_mod.service modprobe@drm.service \
	modprobe@efi_pstore.service modprobe@fuse.service modprobe@loop.service \
	systemd-binfmt.service proc-sys-fs-binfmt_misc.automount
# Generators for things this image cannot have (LUKS, dm-integrity/verity, GPT
# auto-discovery on an MBR disk, hibernation: there is no swap).
mkdir -p "$R/etc/systemd/system-generators"
for g in systemd-cryptsetup-generator systemd-integritysetup-generator \
	systemd-veritysetup-generator systemd-gpt-auto-generator systemd-hibernate-resume-generator; do
	ln -sfn /dev/null "$R/etc/systemd/system-generators/$g"
done

# ---- networking files -------------------------------------------------------------
# no persistent-net rules (Debian 12 has no generator any more; make sure)
rm -f "$R/etc/udev/rules.d/70-persistent-net.rules"

# ---- no private or per-instance data in the image ---------------------------------
rm -f "$R"/etc/ssh/ssh_host_*                      # cloud-init (cc_ssh) makes new ones
: >"$R/etc/machine-id"                             # empty: systemd generates one per instance
rm -f "$R/var/lib/dbus/machine-id"                 # dbus falls back to /etc/machine-id
rm -f "$R/var/lib/systemd/random-seed"
rm -rf "$R/var/lib/cloud"                          # no cloud-init instance state
chroot "$R" usermod -p '*' root                    # no root password (key logins only)
rm -f "$R/root/.bash_history"; rm -rf "$R/root/.ssh"

# ---- apt: keep the sources, drop caches and lists ---------------------------------
chroot "$R" apt-get clean
rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin
rm -f "$R"/var/cache/debconf/*-old "$R"/var/lib/dpkg/*-old

# ---- record what is in the image --------------------------------------------------
chroot "$R" dpkg-query -W -f '${Package} ${Version}\n' >"$MANIFEST"
