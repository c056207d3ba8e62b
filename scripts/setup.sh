#!/usr/bin/env bash
# Idempotent set-up: Debian packages, npm packages, the build, and every stratus-* command on
# the PATH. Each step checks first and does nothing when it is already done, so a second run
# takes a second or two. Called by `npm run demo` and `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { printf ' :: %s\n' "$*"; }

# 1. Debian packages: command → package. Tests use every one of them; none is optional.
declare -A want=(
  [xmlsec1]=xmlsec1            # independent check of our XML signatures
  [chromium]=chromium          # web UI tests through playwright-core
  [qemu-img]=qemu-utils        # disk formats, copy-on-write overlays (and qemu-io in tests)
  [qemu-system-x86_64]=qemu-system-x86  # the hypervisor (KVM when /dev/kvm exists, TCG otherwise)
  [bzip2]=bzip2                # .bz2 images
  [openssl]=openssl            # test certificates
  [curl]=curl                  # download benchmark anchor
  [isoinfo]=genisoimage        # reads seed ISOs back in tests
  [xorriso]=xorriso            # an independent ISO 9660 reader in tests
  [ssh]=openssh-client         # tests log into guests with the real ssh client
  # base-image recipes: partition, boot loader and filesystems written without mounting
  [sfdisk]=fdisk [mkfs.fat]=dosfstools [mcopy]=mtools [syslinux]=syslinux [mkfs.ext4]=e2fsprogs
  [cpio]=cpio [fakeroot]=fakeroot [readelf]=binutils [mmdebstrap]=mmdebstrap
)
missing=()
for cmd in "${!want[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${want[$cmd]}"); done
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then missing+=(postgresql-15); fi
# Recipes resolve package versions from apt's lists; a fresh container may have none.
if [ ${#missing[@]} -gt 0 ] || ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  say "Installing Debian packages: ${missing[*]:-(package lists only)}"
  if [ "$(id -u)" -ne 0 ]; then echo "  [ERROR] apt packages missing (${missing[*]}) and not root: run 'sudo npm run setup'" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  [ ${#missing[@]} -eq 0 ] || apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. npm packages, reinstalled only when the lock file changed.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.stratus-lock ] || [ "$(cat node_modules/.stratus-lock)" != "$lock_hash" ]; then
  say "Installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.stratus-lock
fi

# 3. Build, when any source is newer than the last build.
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ -n "$(find src test scripts bench tsconfig.json package.json -newer "$stamp" -type f 2>/dev/null | head -n 1)" ]; then
  say "Building (tsc)"
  npx tsc -p tsconfig.json
  cp -r src/web/assets dist/src/web/ 2>/dev/null || true
  chmod +x dist/src/main/cli.js
  touch "$stamp"
fi

# 4. Commands on the PATH, as the seed types them (stratus-upload-metadata …).
bindir="$(npm prefix -g)/bin"
target="$root/dist/src/main/cli.js"
linked=0
for name in $(node -e 'for (const k of Object.keys(require("./package.json").bin)) console.log(k)'); do
  if [ "$(readlink "$bindir/$name" 2>/dev/null)" != "$target" ]; then
    ln -sfn "$target" "$bindir/$name"
    linked=$((linked + 1))
  fi
done
[ "$linked" -eq 0 ] || say "Linked $linked commands into $bindir"

# 5. Base images, built once and cached outside the clone ($STRATUS_CACHE_DIR or
#    ~/.cache/stratus), keyed by recipe + package versions. The stamp skips even the key
#    computation when neither the recipes nor apt's lists changed and the images are there.
cache="${STRATUS_CACHE_DIR:-$HOME/.cache/stratus}"
stamp_key=$( (find recipes -type f -print0 | sort -z | xargs -0 sha256sum; ls -l --time-style=+%s /var/lib/apt/lists/ 2>/dev/null) | sha256sum | cut -c1-20)
stamp="$cache/images/.setup-$stamp_key"
if [ ! -f "$stamp" ] || ! xargs -r ls <"$stamp" >/dev/null 2>&1; then
  mkdir -p "$cache/images"
  : >"$stamp.tmp"
  for f in recipes/*/recipe.json; do
    [ -e "$f" ] || continue
    recipe=$(basename "$(dirname "$f")")
    say "Base image $recipe (cached after the first build)"
    node dist/src/main/cli.js build-base-image --recipe "$recipe" --no-publish --json -q >"$cache/images/.setup-$recipe.json"
    node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).image)' "$cache/images/.setup-$recipe.json" >>"$stamp.tmp"
  done
  mv "$stamp.tmp" "$stamp"
fi
