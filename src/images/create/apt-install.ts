/**
 * The package step's `apt-get install` in a running guest, with the services' start deferred
 * to its end, as image builders install (virt-customize's appliance and mmdebstrap's chroot
 * have no systemd for the maintainer scripts to talk to).
 *
 * In a live VM every maintainer script that ships a unit runs `systemctl daemon-reload`
 * (2-3 s each under emulation) and starts its service at once, before the packages after it
 * are configured. Here the scripts' service actions are refused the Debian way (a
 * policy-rc.d that answers 101: invoke-rc.d and deb-systemd-invoke honour it) and their
 * daemon-reloads skipped (a systemctl ahead on the PATH that passes everything else on). At the
 * end: one daemon-reload, then a start of each unit the install enabled (a new link in a
 * `.wants`/`.requires` folder of a target that is active), so the build's scripts find the
 * services running as after a plain install. Services of packages the install only upgraded
 * are not restarted; the image boots them anew.
 *
 * Nothing is changed where the image has a policy-rc.d of its own, or where systemd does not
 * run: the install then runs as it is.
 */

export interface DeferPaths {
  policy: string;
  units: string;
  /** Where the PATH folder is made (tmpfs: it never reaches the image). */
  run: string;
  /** Exists while systemd runs the system (what the maintainer scripts test). */
  booted: string;
}

export const DEFER_PATHS: DeferPaths = { policy: '/usr/sbin/policy-rc.d', units: '/etc/systemd/system', run: '/run', booted: '/run/systemd/system' };

/** `install` (a shell command) with the services deferred; its exit status is the install's. */
export function withServicesDeferred(install: string, p: DeferPaths = DEFER_PATHS): string {
  return [
    '(',
    `if [ -e '${p.policy}' ] || [ ! -d '${p.booted}' ] || ! command -v systemctl >/dev/null 2>&1; then ${install}; exit $?; fi`,
    `d=$(mktemp -d '${p.run}/stratus-apt.XXXXXX') || exit 1`,
    `trap 'rm -f "${p.policy}"; rm -rf "$d"' EXIT`,
    'printf \'#!/bin/sh\\ncase " $* " in *" daemon-reload "*) exit 0 ;; esac\\nexec %s "$@"\\n\' "$(command -v systemctl)" > "$d/systemctl"',
    `printf '#!/bin/sh\\nexit 101\\n' > '${p.policy}'`,
    `chmod 755 "$d/systemctl" '${p.policy}'`,
    ': > "$d/stamp"',
    `PATH="$d:$PATH"; export PATH; ${install}`,
    'r=$?',
    `rm -f '${p.policy}'`,
    '[ "$r" = 0 ] || exit "$r"',
    'PATH=${PATH#"$d:"}',
    'systemctl daemon-reload || exit 1',
    `started=''`,
    `for link in $(find '${p.units}' -mindepth 2 -maxdepth 2 \\( -path '*.wants/*' -o -path '*.requires/*' \\) -newer "$d/stamp" | LC_ALL=C sort); do`,
    '  unit=${link##*/}; target=${link%/*}; target=${target##*/}; target=${target%.*}',
    '  if systemctl is-active --quiet "$target"; then',
    '    if systemctl start "$unit"; then started="$started $unit"; else echo "warning: $unit did not start (as in a plain install, the install goes on)"; fi',
    '  fi',
    'done',
    '[ -z "$started" ] || echo "Started what the packages enabled:$started"',
    ')',
  ].join('\n');
}
