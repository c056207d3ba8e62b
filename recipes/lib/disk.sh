# Shared by the recipes' build.sh (bash, sourced after `set -euo pipefail` with
# SOURCE_DATE_EPOCH set): progress lines, host tool checks, and the disk layout both images
# use, written without mounting anything:
#
#   sector 0            syslinux mbr.bin + MBR partition table (sfdisk), fixed disk id
#   partition 1 FAT16   active: ldlinux.sys/.c32, syslinux.cfg, kernel, initrd
#   partition 2         the rest, for the root file system (last, so it can grow)

t0=$(date +%s.%N)
step() { printf '[%6.2fs] %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{print a-b}')" "$*"; }

# need_tools CMD... / need_files PATH...: what the build uses from the host. Each belongs to a
# package in recipe.json "hostPackages" (npm run setup installs them; a test checks the mapping
# with dpkg -S), so a missing one is a set-up bug and the message says so.
need_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "missing host tool: $t (run npm run setup: it installs recipe.json's hostPackages)" >&2; exit 1; }
  done
}
need_files() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || { echo "missing host file: $f (run npm run setup: it installs recipe.json's hostPackages)" >&2; exit 1; }
  done
}

# boot_disk IMG DISK_MB BOOT_MB DISK_ID BOOT_LABEL MBR_BIN LOG FILE...
# Creates IMG with the partition table, a FAT16 boot partition holding FILE... (in that order,
# timestamps pinned) and SYSLINUX. Sets ROOT_OFFSET (bytes) and ROOT_KIB for partition 2.
boot_disk() {
  local img=$1 disk_mb=$2 boot_mb=$3 disk_id=$4 label=$5 mbr=$6 log=$7
  shift 7
  local p1_start=2048 p1_size=$((boot_mb * 2048))
  local p2_start=$((p1_start + p1_size))
  local p2_size=$((disk_mb * 2048 - p2_start))
  rm -f "$img"; truncate -s "${disk_mb}M" "$img"
  sfdisk -q "$img" <<EOT
label: dos
label-id: $disk_id
unit: sectors
start=$p1_start, size=$p1_size, type=6, bootable
start=$p2_start, size=$p2_size, type=83
EOT
  # FAT16 in place; -h = hidden sectors = partition start, which SYSLINUX needs. It warns
  # "block count mismatch" because the image file is bigger than the partition.
  mkfs.fat -F 16 -n "$label" --invariant -h $p1_start --offset $p1_start "$img" $((p1_size / 2)) \
    >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  touch -d "@$SOURCE_DATE_EPOCH" "$@"
  mcopy -m -i "$img@@$((p1_start * 512))" "$@" ::/
  # syslinux (the mtools variant) writes ldlinux.sys/ldlinux.c32 and the boot sector
  syslinux --install --offset $((p1_start * 512)) "$img"
  # MBR boot code: the first 440 bytes only, so the partition table stays
  dd if="$mbr" of="$img" bs=440 count=1 conv=notrunc status=none
  ROOT_OFFSET=$((p2_start * 512))
  ROOT_KIB=$((p2_size / 2))
  step "boot partition: $(mdir -i "$img@@$((p1_start * 512))" -b :: | xargs -n1 basename | xargs)"
}

# pin_times IMG ROOTDIR LOG "FIELDS" "LOST+FOUND FIELDS"
# mkfs.ext4 -d copies ctime/atime (and crtime is "now") from the build host; e2fsprogs 1.47.0
# has no option against it, so debugfs sets them to SOURCE_DATE_EPOCH in the root partition.
pin_times() {
  local img=$1 root=$2 log=$3 fields=$4 lost=$5 f x
  (cd "$root" && find . | sed 's|^\.||; s|^$|/|' | while IFS= read -r f; do
    for x in $fields; do printf 'sif "%s" %s @%s\n' "$f" "$x" "$SOURCE_DATE_EPOCH"; done
  done; for x in $lost; do echo "sif /lost+found $x @$SOURCE_DATE_EPOCH"; done
  ) >"$log.debugfs"
  E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH debugfs -w -f "$log.debugfs" "$img?offset=$ROOT_OFFSET" >"$log" 2>&1
}

# sparse IMG: mkfs leaves the journal as allocated zeros; rewrite the image sparsely.
sparse() {
  cp --sparse=always "$1" "$1.tmp" && mv "$1.tmp" "$1"
}
