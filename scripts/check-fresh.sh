#!/usr/bin/env bash
# npm run check:fresh - the README's `npm run demo` on a fresh machine, for real:
#
#   1. a clean Debian 12 root (mmdebstrap --variant=minbase, cached per day as a tarball);
#   2. what a user's Node 20 install brings (node, npm, Node's headers) and what belongs to this
#      machine's network rather than to the project (resolver, local CA certificates, npm's and
#      apt's settings for reaching the registries);
#   3. a clean `git clone` of main, with empty npm, image and data caches;
#   4. `npm run demo` exactly, as root, then a short smoke test (scripts/smoke.ts): the server
#      starts, a fixture validates, one ttylinux guest reaches SSH.
#
# The root runs in its own mount and PID namespaces: /proc, /dev and /sys are mounted there only,
# so the mounts go, and every process started inside is killed, however the check ends.
# Each step prints its time; a summary follows. Not part of `npm test` (it takes minutes).
#
# env: STRATUS_FRESH_DIR=/var/cache/stratus-fresh   where the root tarballs and runs live
#      FRESH_KEEP=1                                   keep the root afterwards, even on success
#      MIRROR=http://deb.debian.org/debian            the Debian archive
set -euo pipefail

need_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || { echo "  [ERROR] missing host tool: $t (npm run setup installs it)" >&2; exit 1; }
  done
}

# ------------------------------------------------------------------ inside the namespaces --
if [ "${1:-}" = "--inside" ]; then
  R=$2 timings=$3
  mount -t proc proc "$R/proc"
  for d in dev sys; do mount --rbind "/$d" "$R/$d"; mount --make-rslave "$R/$d"; done
  step() {
    local name=$1 t0 rc=0
    shift
    printf '\n :: [check:fresh] %s\n' "$name"
    t0=$(date +%s.%N)
    "$@" || rc=$?
    printf '%-44s %8.1f s  %s\n' "$name" "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN{print a-b}')" "$([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")" >>"$timings"
    return $rc
  }
  in_root() {
    chroot "$R" /usr/bin/env -i HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin bash -c "$1"
  }
  step "update-ca-certificates" in_root 'update-ca-certificates >/dev/null'
  step "npm run demo (set-up included)" in_root 'cd /root/stratus && npm run demo'
  step "smoke: server, fixture, ttylinux SSH" in_root 'cd /root/stratus && node dist/scripts/smoke.js'
  exit 0
fi

# ------------------------------------------------------------------------------ the host --
[ "$(id -u)" = 0 ] || { echo "  [ERROR] check:fresh needs root (mmdebstrap, chroot, mounts)" >&2; exit 1; }
need_tools mmdebstrap git unshare chroot mount
repo=$(cd "$(dirname "$0")/.." && pwd)
base=${STRATUS_FRESH_DIR:-/var/cache/stratus-fresh}
mirror=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$base"
t_start=$(date +%s)
say() { printf ' :: [check:fresh] %s\n' "$*"; }
elapsed() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN{printf "%.1f", a-b}'; }

# 1. The clean root, one tarball a day (older ones are removed).
day=$(date -u +%Y%m%d)
tarball="$base/minbase-bookworm-$day.tar"
t0=$(date +%s.%N)
if [ ! -f "$tarball" ]; then
  say "building a clean Debian 12 minbase root (mmdebstrap)"
  # ca-certificates: the machine's own CA certificates are added to it (step 2)
  # (mmdebstrap picks the output format from the name: the temporary name must end in .tar)
  partial="$base/.partial-$day.tar"
  mmdebstrap --variant=minbase --include=ca-certificates bookworm "$partial" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb ${mirror%/debian}/debian-security bookworm-security main" </dev/null >"$base/mmdebstrap.log" 2>&1 \
    || { tail -n 20 "$base/mmdebstrap.log" >&2; rm -f "$partial"; exit 1; }
  mv "$partial" "$tarball"
  find "$base" -maxdepth 1 -name 'minbase-bookworm-*.tar' ! -name "$(basename "$tarball")" -delete
fi
t_root=$(elapsed "$t0")

run=$(mktemp -d "$base/run-XXXXXX")
R=$run/root
timings=$run/timings.txt
: >"$timings"
printf '%-44s %8s s  %s\n' "clean root (mmdebstrap, cached per day)" "$t_root" ok >>"$timings"
finish() {
  local rc=$?
  # The namespaces took their mounts with them; make sure nothing is left under the root.
  if grep -q " $R/" /proc/self/mountinfo; then
    echo "  [ERROR] mounts left under $R:" >&2; grep " $R/" /proc/self/mountinfo >&2; rc=1
  fi
  printf '\n :: [check:fresh] step times\n'; cat "$timings"
  printf '%-44s %8s s\n' "total" "$(( $(date +%s) - t_start ))"
  if [ $rc = 0 ] && [ "${FRESH_KEEP:-}" != 1 ]; then rm -rf "$run"; else echo " :: the root is kept for inspection: $R"; fi
  [ $rc = 0 ] && say "passed" || say "FAILED"
  exit $rc
}
trap finish EXIT

t0=$(date +%s.%N)
mkdir -p "$R"
tar -C "$R" -xf "$tarball"

# 2. A user's Node 20 install (the nodejs package's files, or a tarball install's), Node's
#    headers for native modules, and this machine's network settings.
node_bin=$(command -v node); npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
mkdir -p "$R/usr/bin" "$R/usr/lib/node_modules" "$R/usr/include" "$R/root"
cp -a "$(readlink -f "$node_bin")" "$R/usr/bin/node"
cp -a "$npm_dir" "$R/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/bin/npx"
[ -d /usr/include/node ] && cp -a /usr/include/node "$R/usr/include/node"
globalrc=$(npm config get globalconfig 2>/dev/null || true)
if [ -n "$globalrc" ] && [ -f "$globalrc" ]; then mkdir -p "$R$(dirname "$globalrc")"; cp "$globalrc" "$R$globalrc"; fi
[ -f "$HOME/.npmrc" ] && cp "$HOME/.npmrc" "$R/root/.npmrc"
cp -L /etc/resolv.conf "$R/etc/resolv.conf"
if compgen -G '/usr/local/share/ca-certificates/*' >/dev/null; then
  mkdir -p "$R/usr/local/share/ca-certificates"; cp -a /usr/local/share/ca-certificates/. "$R/usr/local/share/ca-certificates/"
fi
# apt settings an administrator added for reaching the archive (no package owns them)
for f in /etc/apt/apt.conf.d/*; do
  dpkg -S "$f" >/dev/null 2>&1 || ! grep -q 'Acquire' "$f" || cp "$f" "$R/etc/apt/apt.conf.d/"
done

# 3. A clean clone of main; the root has no npm, image or data caches.
git clone -q --branch main "file://$repo" "$R/root/stratus"
printf '%-44s %8s s  %s\n' "root prepared: node, network settings, clone" "$(elapsed "$t0")" ok >>"$timings"
say "root ready at $R (clone of main at $(git -C "$R/root/stratus" rev-parse --short HEAD))"

# 4. The README's command and the smoke test, in their own namespaces.
unshare --mount --pid --fork --kill-child --propagation private bash "$0" --inside "$R" "$timings"
