#!/bin/bash
# build.sh - build "ttylinux", a tiny self-contained bootable cloud image, from
# Debian 12 packages only:
#
#   sector 0          syslinux mbr.bin + MBR partition table (sfdisk)
#   partition 1 FAT16 (active) ldlinux.sys/.c32, syslinux.cfg, vmlinuz, initrd.img
#   partition 2 ext4  busybox + dropbear root, label "ttyroot"
#
# Nothing is mounted, no loop device, no chroot: sfdisk, mkfs.fat --offset,
# mcopy -i img@@offset, syslinux --offset and mkfs.ext4 -E offset= -d all work on
# the plain image file. The build runs as an ordinary user; only the ext4 step is
# wrapped in fakeroot (when not root) so that files in the image are owned by root.
#
# usage: build.sh OUTDIR     writes OUTDIR/disk.img (the image) and OUTDIR/manifest.txt
#        (stratus-build-base-image runs it; it caches the result by recipe + package versions)
# env:   DEBS=dir   .deb cache (default ./debs)      DISK_MB=128  BOOT_MB=32
#        SOURCE_DATE_EPOCH=...  (timestamps; default 1700000000, for reproducible images)
#        ROOT_UUID=...  INITRD_COMP=gzip|lz4|xz|zstd|none
# host packages: recipe.json "hostPackages" (npm run setup installs them)
set -euo pipefail
umask 022   # modes of the files the build creates must not depend on the caller

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mkdir -p "${1:?usage: build.sh OUTDIR}" && cd "$1" && pwd)
DEBS=${DEBS:-$HERE/debs}
WORK=$OUT/work
DISK_MB=${DISK_MB:-128}
BOOT_MB=${BOOT_MB:-32}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
ROOT_UUID=${ROOT_UUID:-5d7a7e5a-7779-4c1b-9f5e-0d15ea5e0001}
INITRD_COMP=${INITRD_COMP:-gzip}
ROOT_LABEL=ttyroot
# acpi=noirq pci=nomsi would boot ~0.8 s faster under TCG, but hot-plugged disks then get
# no interrupt ("can't find IRQ for PCI INT A"), and volumes must attach to running VMs.
APPEND=${APPEND:-"root=LABEL=$ROOT_LABEL rw console=tty0 console=ttyS0,115200 quiet cryptomgr.notests"}
export LC_ALL=C TZ=UTC MTOOLS_SKIP_CHECK=1

. "$HERE/../lib/disk.sh"
need_tools apt-get apt-cache dpkg-deb sfdisk mkfs.fat mcopy mdir syslinux mkfs.ext4 debugfs cpio gzip readelf
FAKEROOT=; [ "$(id -u)" = 0 ] || FAKEROOT=fakeroot

# ---------------------------------------------------------------- 1. debs --
# The kernel metapackage (KERNEL_PACKAGE, from recipe.json) only points at the versioned
# image package; a recipe whose kernel is missing must fail here, loudly.
KMETA=${KERNEL_PACKAGE:-linux-image-cloud-amd64}
apt-cache show "$KMETA" >/dev/null 2>&1 || { echo "no kernel: package $KMETA is not in the archive (check recipe.json \"kernel\", then apt-get update)" >&2; exit 1; }
KPKG=$(apt-cache depends "$KMETA" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
case "$KMETA" in linux-image-[0-9]*) KPKG=$KMETA ;; esac
[ -n "$KPKG" ] || { echo "no kernel: $KMETA does not depend on a linux-image-<version> package" >&2; exit 1; }
PKGS="$KPKG busybox-static dropbear-bin libc6 libcrypt1 libtomcrypt1 libtommath1 zlib1g libgmp10 syslinux-common
  nftables libnftables1 libnftnl11 libmnl0 libjansson4 libxtables12 libedit2 libbsd0 libmd0 libtinfo6 netbase"
mkdir -p "$DEBS"
# Exactly the versions apt offers now (the cache key is made of them), each fetched once.
deb_of() { local v; v=$(apt-cache policy "$1" | awk '/Candidate:/ {print $2}'); echo "$DEBS/${1}_${v//:/%3a}_$(dpkg-deb --version >/dev/null; dpkg --print-architecture).deb"; }
deb_all() { local v; v=$(apt-cache policy "$1" | awk '/Candidate:/ {print $2}'); echo "$DEBS/${1}_${v//:/%3a}_all.deb"; }
need=; for p in $PKGS; do [ -e "$(deb_of "$p")" ] || [ -e "$(deb_all "$p")" ] || need="$need $p"; done
# (run as root: apt must not try to drop to _apt, which cannot write the cache)
[ -z "$need" ] || (cd "$DEBS" && apt-get -q -o APT::Sandbox::User=root download $need)
step "packages ready:$([ -n "$need" ] && echo " downloaded$need" || echo " all cached")"

rm -rf "$WORK"; mkdir -p "$WORK/x"
: >"$OUT/manifest.txt"
for p in $PKGS; do
  deb=$(deb_of "$p"); [ -e "$deb" ] || deb=$(deb_all "$p")
  dpkg-deb -x "$deb" "$WORK/x/$p"
  echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) $(sha256sum <"$deb" | cut -c1-16)" >>"$OUT/manifest.txt"
done
KX=$WORK/x/$KPKG
KVER=$(ls "$KX/lib/modules" 2>/dev/null || true)
[ -n "$KVER" ] && [ -e "$KX/boot/vmlinuz-$KVER" ] || { echo "no kernel: $KPKG has no /boot/vmlinuz and modules" >&2; exit 1; }
VMLINUZ=$KX/boot/vmlinuz-$KVER
step "extracted; kernel $KVER"

# ------------------------------------------------------------- 2. rootfs --
R=$WORK/rootfs
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib/x86_64-linux-gnu,lib64,dev,proc,sys,run,tmp,mnt,root,etc,var/log,var/lib,home}
# busybox: one static binary, symlinks for every applet (skip "busybox" itself)
BB=$WORK/x/busybox-static/bin/busybox
install -m 755 "$BB" "$R/bin/busybox"
"$BB" --list-full | while read -r a; do
  [ "$a" = bin/busybox ] || [ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
done
# dropbear (server + key generator) and exactly the shared libraries it needs
DB=$WORK/x/dropbear-bin
install -m 755 "$DB/usr/sbin/dropbear" "$R/usr/sbin/dropbear"
install -m 755 "$DB/usr/bin/dropbearkey" "$R/usr/bin/dropbearkey"
copy_libs() {  # resolve DT_NEEDED recursively inside the extracted debs
  local f lib src
  for f in "$@"; do
    for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [ -e "$R/lib/x86_64-linux-gnu/$lib" ] && continue
      src=$(find "$WORK/x" -name "$lib" \( -type f -o -type l \) | grep -v "^$KX" | head -n1)
      [ -n "$src" ] || { echo "library $lib not found in the debs" >&2; exit 1; }
      cp -L "$src" "$R/lib/x86_64-linux-gnu/$lib"
      copy_libs "$R/lib/x86_64-linux-gnu/$lib"
    done
  done
}
copy_libs "$R/usr/sbin/dropbear" "$R/usr/bin/dropbearkey"
cp -L "$WORK/x/libc6/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$R/lib/x86_64-linux-gnu/"
ln -sf /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$R/lib64/ld-linux-x86-64.so.2"
# check that the guest's loader resolves everything (runs the guest binary on the host)
"$R/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$R/lib/x86_64-linux-gnu" \
  "$R/usr/sbin/dropbear" -V 2>&1 | grep -q 'Dropbear v' || { echo "dropbear does not run" >&2; exit 1; }
# nft (the firewall, /etc/nftables.conf loaded by rcS) and its libraries
install -m 755 "$WORK/x/nftables/usr/sbin/nft" "$R/usr/sbin/nft"
copy_libs "$R/usr/sbin/nft"
# nft resolves protocol and service names (ipv6-icmp) with /etc/protocols and /etc/services
install -m 644 "$WORK/x/netbase/etc/protocols" "$WORK/x/netbase/etc/services" "$R/etc/"
"$R/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$R/lib/x86_64-linux-gnu" \
  "$R/usr/sbin/nft" --version 2>&1 | grep -q '^nftables v' || { echo "nft does not run" >&2; exit 1; }

# kernel modules: only what this image uses (the full tree is 91 MB)
MODS="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
  drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
  net/core/failover drivers/net/net_failover drivers/net/virtio_net
  drivers/char/hw_random/virtio-rng drivers/virtio/virtio_balloon drivers/char/virtio_console
  drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/scsi/sd_mod drivers/scsi/virtio_scsi
  drivers/ata/libata drivers/ata/ata_piix drivers/scsi/sr_mod drivers/cdrom/cdrom
  fs/isofs/isofs fs/fat/fat fs/fat/vfat fs/nls/nls_cp437 fs/nls/nls_ascii fs/nls/nls_utf8
  drivers/input/evdev drivers/acpi/button
  net/netfilter/nfnetlink net/netfilter/nf_tables lib/libcrc32c net/ipv4/netfilter/nf_defrag_ipv4
  net/ipv6/netfilter/nf_defrag_ipv6 net/netfilter/nf_conntrack net/netfilter/nft_ct"
M=$R/lib/modules/$KVER
for m in $MODS; do install -D -m 644 "$KX/lib/modules/$KVER/kernel/$m.ko" "$M/kernel/$m.ko"; done
cp "$KX/lib/modules/$KVER/modules.builtin" "$KX/lib/modules/$KVER/modules.order" "$M/" 2>/dev/null || true
"$BB" depmod -b "$R" "$KVER"          # busybox depmod: the host has no kmod
# our files: inittab, rc scripts, udhcpc/acpi hooks, stratus-context agent
. "$HERE/../lib/copy-tree.sh"
copy_tree "$HERE/rootfs" "$R"
copy_tree "$HERE/../lib/firewall" "$R"     # nftables.conf, nftables.d/, open-port: shared with debian-12
ln -s /usr/local/sbin/open-port "$R/usr/sbin/open-port"
# The firewall admits exactly the ports the entry will publish as inbound-port.
fw_ports=$(sed -n 's/^[[:space:]]*elements = { \(.*\) }$/\1/p' "$R/etc/nftables.conf" | head -n1 | tr -d ' ')
[ "$fw_ports" = "$(echo "${INBOUND_PORTS:-22}" | tr ' ' ',')" ] || { echo "the firewall admits '$fw_ports' but recipe.json inboundPorts is '${INBOUND_PORTS:-22}': make /etc/nftables.conf's tcp_ports and inboundPorts agree" >&2; exit 1; }
mkdir -p "$R/etc/dropbear"            # host key made at first boot
chmod 700 "$R/root"; chmod 1777 "$R/tmp"; chmod 600 "$R/etc/shadow"
step "rootfs: $(du -sk "$R" | cut -f1) KiB, $(find "$R" | wc -l) entries"

# ---------------------------------------------------------- 3. initramfs --
I=$WORK/initramfs
mkdir -p "$I"/{bin,dev,proc,sys,newroot,lib/modules}
install -m 755 "$BB" "$I/bin/busybox"
for a in sh mount umount insmod findfs usleep switch_root cat echo setsid cttyhack ls head; do ln -s busybox "$I/bin/$a"; done
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio-rng; do
  cp "$(find "$KX/lib/modules" -name "$m.ko")" "$I/lib/modules/"
done
install -m 755 "$HERE/initramfs/init" "$I/init"
find "$I" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
case $INITRD_COMP in
  gzip) comp="gzip -9 -n" ;; lz4) comp="lz4 -l -9 -q" ;; xz) comp="xz --check=crc32 -9" ;;
  zstd) comp="zstd -19 -q" ;; none) comp=cat ;; *) echo "bad INITRD_COMP" >&2; exit 1 ;;
esac
# GNU cpio -R 0:0 gives root ownership without privileges; --reproducible fixes inode numbers
(cd "$I" && find . | sort | cpio -o -H newc -R 0:0 --reproducible --quiet) | $comp >"$WORK/initrd.img"
step "initramfs: $(stat -c %s "$WORK/initrd.img") bytes ($INITRD_COMP)"

# --------------------------------------------------------- 4. disk image --
IMG=$OUT/disk.img
cat >"$WORK/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT ttylinux
PROMPT 0
TIMEOUT 0
LABEL ttylinux
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND $APPEND
EOF
cp "$VMLINUZ" "$WORK/vmlinuz"
boot_disk "$IMG" "$DISK_MB" "$BOOT_MB" 0x5772a7e5 TTYBOOT "$WORK/x/syslinux-common/usr/lib/syslinux/mbr/mbr.bin" \
  "$WORK/mkfs.fat.log" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/syslinux.cfg"
# Root partition, ext4 populated from the directory. Reading a file bumps its atime
# (relatime, since ctime > atime after touch), and mkfs -d copies atimes: so set all
# timestamps right here, for a bit-identical image.
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
# mkfs -d copies owners from the directory: make everything root's (inside the same
# fakeroot session when unprivileged; dropbear refuses keys if /root is not root's).
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH $FAKEROOT sh -c '
  chown -R 0:0 "$1" && mkfs.ext4 -q -F -T default -L "$2" -U "$3" \
    -E "offset=$4,hash_seed=$3,root_owner=0:0" -d "$1" "$5" "$6"' mkroot \
  "$R" "$ROOT_LABEL" "$ROOT_UUID" "$ROOT_OFFSET" "$IMG" "${ROOT_KIB}k"
pin_times "$IMG" "$R" "$WORK/debugfs.log" "ctime atime" "ctime atime"
step "root partition written"

sparse "$IMG"
step "done: $IMG ($(du -k --apparent-size "$IMG" | cut -f1) KiB apparent, $(du -k "$IMG" | cut -f1) KiB allocated)"
