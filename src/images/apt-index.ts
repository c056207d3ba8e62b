/**
 * apt's package index in a guest resumed from a booted base (compute/booted-base.ts), as POSIX
 * shell run as root in the guest.
 *
 * Under emulation, `apt-get update` costs about 18 s even when nothing changed: apt verifies
 * every InRelease again through apt-key (3 s each) and rebuilds its cache from scratch (6 s).
 * A base fetched the index just before it was saved; a build resumed from it needs a new
 * `apt-get update` only when the archive or the sources changed since. Both are checked: the
 * sources are the ones recorded when the index was fetched, and each InRelease the guest holds
 * is byte for byte the one the archive serves now (fetched through apt's own configuration, so
 * the same proxy). The signed InRelease lists the hash of every index file, and the files on
 * disk were verified against it when they were fetched: an update would leave the index exactly
 * as it is. Anything else (no record, a source added, a download that fails, a name that does
 * not map) means `apt-get update`.
 */

export interface AptIndexPaths {
  /** The sources apt had when the index was fetched: /run, so it goes with the running state and never reaches an image. */
  record: string;
  /** apt's helper that downloads with apt's configuration (proxy, sandbox user). */
  helper: string;
}

export const APT_INDEX_PATHS: AptIndexPaths = { record: '/run/stratus/apt-sources', helper: '/usr/lib/apt/apt-helper' };

/** Every index target apt knows from its sources, whether or not the archive has it: a function of the configuration only. */
const SOURCES = 'apt-get indextargets --no-release-info --format \'$(URI)\' | LC_ALL=C sort';

/**
 * Fetches the index and records the sources it was fetched with, only when every source
 * answered (`--error-on=any`; apt's default keeps old files and exits 0). Prints one line,
 * `package index: fetched` or `package index: not fetched`, after apt's own output.
 */
export function aptIndexFetch(p: AptIndexPaths = APT_INDEX_PATHS): string {
  const dir = p.record.replace(/\/[^/]*$/, '');
  return `if apt-get -q update --error-on=any && mkdir -p '${dir}' && ${SOURCES} > '${p.record}.part' && mv '${p.record}.part' '${p.record}'; `
    + 'then echo \'package index: fetched\'; else echo \'package index: not fetched\'; fi';
}

/**
 * Exits 0 when the index is the archive's current one for the sources recorded by
 * aptIndexFetch, 1 otherwise (a subshell: its exits end only itself). The InRelease of a
 * target is named like the target's file, with the target's key (`main/binary-amd64/Packages`,
 * slashes as underscores) replaced by `InRelease`, as apt names them.
 */
export function aptIndexCurrent(p: AptIndexPaths = APT_INDEX_PATHS): string {
  return [
    '(',
    `[ -s '${p.record}' ] || exit 1`,
    't=$(mktemp -d) || exit 1',
    'trap \'rm -rf "$t"\' EXIT',
    // One listing (apt starts in seconds under emulation): its first column is what SOURCES records.
    'apt-get indextargets --no-release-info --format \'$(URI) $(REPO_URI)dists/$(RELEASE)/InRelease $(FILENAME) $(METAKEY)\' > "$t/targets" || exit 1',
    `cut -d ' ' -f 1 "$t/targets" | LC_ALL=C sort > "$t/now" && cmp -s "$t/now" '${p.record}' || exit 1`,
    'while read -r target uri file key; do printf \'%s %s\\n\' "$uri" "${file%"$(printf %s "$key" | tr / _)"}InRelease"; done < "$t/targets" | LC_ALL=C sort -u > "$t/releases"',
    '[ -s "$t/releases" ] || exit 1',
    // apt downloads as its sandbox user, who must be able to write there.
    'chown _apt "$t" 2>/dev/null',
    'i=0',
    'while read -r uri file; do',
    '  i=$((i + 1))',
    `  [ -s "$file" ] && '${p.helper}' -q download-file "$uri" "$t/$i" >/dev/null 2>&1 && cmp -s "$file" "$t/$i" || exit 1`,
    'done < "$t/releases"',
    ')',
  ].join('\n');
}

/** The package step's update: apt-get update, unless aptIndexCurrent says it would change nothing. */
export function aptUpdateUnlessCurrent(p: AptIndexPaths = APT_INDEX_PATHS): string {
  return `if ${aptIndexCurrent(p)}\nthen echo 'apt-get update: not needed, the package index is the archive'"'"'s current one (every InRelease unchanged since the booted base fetched it)'; `
    + 'else DEBIAN_FRONTEND=noninteractive apt-get update; fi';
}
