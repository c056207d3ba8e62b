#!/usr/bin/env bash
# Idempotent set-up: Debian packages, npm packages, the build, and every stratus-* command on
# the PATH. Each step checks first and does nothing when it is already done, so a second run
# takes a second or two. Called by `npm run demo` and `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
say() { printf ' :: %s\n' "$*"; }

# 1. Debian packages: scripts/packages.txt plus every recipe's "hostPackages", checked by
#    package with dpkg-query (a command being on the PATH says nothing about the files a
#    package's Recommends would have brought).
mapfile -t wanted < <( (sed 's/#.*//' scripts/packages.txt; for f in recipes/*/recipe.json; do
  node -e 'for (const p of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).hostPackages ?? []) console.log(p)' "$f"
done) | tr -s ' \t' '\n' | sed '/^$/d' | sort -u)
declare -A installed=()
while read -r pkg status; do [ "$status" = "ii" ] && installed[$pkg]=1; done \
  < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${wanted[@]}" 2>/dev/null || true)
missing=()
for p in "${wanted[@]}"; do [ -n "${installed[$p]:-}" ] || missing+=("$p"); done
# Recipes resolve package versions from apt's lists; a fresh machine may have none.
if [ ${#missing[@]} -gt 0 ] || ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
  say "Installing Debian packages: ${missing[*]:-(package lists only)}"
  if [ "$(id -u)" -ne 0 ]; then echo "  [ERROR] Debian packages missing (${missing[*]}) and not root: run 'sudo npm run setup'" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [ ${#missing[@]} -gt 0 ] && ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/stratus-apt.log 2>&1; then
    tail -n 20 /tmp/stratus-apt.log >&2
    echo "  [ERROR] apt-get install failed for: ${missing[*]} (full log: /tmp/stratus-apt.log)" >&2
    exit 1
  fi
  # apt-cacher-ng's package starts a system-wide proxy on every address; Stratus runs its own,
  # on the instance bridge only. Stop and disable the one this install just started.
  if [[ " ${missing[*]} " == *" apt-cacher-ng "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now apt-cacher-ng.service >/dev/null 2>&1 || true
  fi
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
  # From empty: tsc never deletes the output of a source that moved or went, and the test runner
  # would still run a stale *.test.js left in dist/.
  rm -rf dist
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
