import { StratusError } from '../../domain/errors.js';
import { shellQuote } from '../../platform/ssh.js';
import { aptUpdateUnlessCurrent } from '../apt-index.js';
import { withServicesDeferred } from './apt-install.js';

/**
 * The package installers of stratus-create-image (reference §3 step 11) as pure functions:
 * which one an OS takes, the names and repositories users may give, and the exact command
 * lines and repository files the guest gets. Package names and repository URLs come from the
 * user but end up in a root shell on the guest, so they are held to their grammar here and
 * quoted when the commands are written.
 */

/** `yum` asked for (or derived) means dnf on a guest that has it (installerOnGuest). */
export type Installer = 'apt' | 'yum' | 'dnf';
export const INSTALLERS: readonly Installer[] = ['apt', 'yum', 'dnf'];

/** Distributions whose images take apt. StratusLab took only what was a substring of "ubuntu". */
const APT_OS = ['debian', 'ubuntu'];
/** The RPM family, StratusLab's four plus the RHEL rebuilds of today. */
const YUM_OS = ['centos', 'fedora', 'sl', 'scientificlinux', 'rocky', 'almalinux', 'rhel'];

/** The installer for `os` (the entry's slterms:os or --os), or --installer; undefined: no installer is known. */
export function installerFor(os: string, given?: string): Installer | undefined {
  if (given !== undefined) {
    const chosen = INSTALLERS.find((i) => i === given.trim().toLowerCase());
    if (!chosen) throw new StratusError('USAGE', `--installer must be ${INSTALLERS.join(', ')}, not ${given}`);
    return chosen;
  }
  const name = os.trim().toLowerCase();
  if (APT_OS.includes(name)) return 'apt';
  if (YUM_OS.includes(name)) return 'yum';
  return undefined;
}

/** The installer, or StratusLab's error when packages are asked for and the OS has none. */
export function requireInstaller(os: string, given: string | undefined): Installer {
  const installer = installerFor(os, given);
  if (!installer) {
    throw new StratusError('USAGE', `Unsupported OS: ${os}`, {
      hint: `Packages are installed with apt (${APT_OS.join(', ')}) or yum/dnf (${YUM_OS.join(', ')}); give --os or --installer, or install them from a script (-s).`,
    });
  }
  return installer;
}

/**
 * A package name as apt and yum take them: a letter or digit first (so never an option such as
 * `-o`), then letters, digits and `. _ + ~ : = / -` (apt's `name=version`, `name:arch` and
 * `name/release`); a yum group starts with `@`. Nothing a shell reads as syntax.
 */
const PACKAGE = /^@?[A-Za-z0-9][A-Za-z0-9._+~:=/-]{0,199}$/;

/** -a/--packages: comma-separated names, each checked (StratusLab split on commas too). */
export function parsePackages(text: string | undefined): string[] {
  const names = (text ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  for (const name of names) {
    if (!PACKAGE.test(name)) {
      throw new StratusError('USAGE', `-a/--packages: ${JSON.stringify(name)} is not a package name`, {
        hint: 'Package names are letters, digits and . _ + ~ : = / - (apt takes name=version), separated by commas; anything else belongs in a script (-s).',
      });
    }
  }
  return names;
}

/** An --extra-os-repos entry: the URL, and for apt the distribution and components after it. */
export interface Repo {
  url: string;
  /** apt's `suite component…` words (`bookworm main`); none for yum. */
  words: string[];
}

/** What a URL may hold here: no space, quote, backslash, backtick, comma or control character. */
const URL_TEXT = /^(https?|ftp):\/\/[A-Za-z0-9._~:/?#[\]@!$&()*+;=%-]+$/;
const WORD = /^[A-Za-z0-9._~/+-]+$/;

/** --extra-os-repos: comma-separated entries, each `URL [suite component…]`. */
export function parseRepos(text: string | undefined): Repo[] {
  return (text ?? '').split(',').map((r) => r.trim()).filter(Boolean).map((entry) => {
    const [url = '', ...words] = entry.split(/\s+/);
    let host = '';
    try {
      host = new URL(url).hostname;
    } catch {
      host = '';
    }
    if (!URL_TEXT.test(url) || !host) {
      throw new StratusError('USAGE', `--extra-os-repos: ${JSON.stringify(url)} is not an http, https or ftp URL`, {
        hint: 'Give each repository as URL (yum) or URL SUITE COMPONENT… (apt), separated by commas.',
      });
    }
    const bad = words.find((w) => !WORD.test(w));
    if (bad !== undefined) throw new StratusError('USAGE', `--extra-os-repos: ${JSON.stringify(bad)} (after ${url}) is not a suite or component name`);
    return { url, words };
  });
}

/** A file the package step writes on the guest, whole or appended to. */
export interface RepoFile {
  path: string;
  content: string;
  append: boolean;
}

/** A host name as part of a file name: only what a host name may hold. */
function fileStem(url: string): string {
  return new URL(url).hostname.replace(/[^A-Za-z0-9.-]/g, '_');
}

/**
 * The repository files of §3: apt appends `deb URL …` to /etc/apt/sources.list.d/<host>.list;
 * yum writes /etc/yum.repos.d/<host>-<i>.repo (i from 0, the entry's place in the list).
 * apt's line is `[trusted=yes]`: yum's files have `gpgcheck=0`, and modern apt refuses an
 * unsigned repository outright, which StratusLab's `--force-yes` let through.
 */
export function repoFiles(installer: Installer, repos: Repo[]): RepoFile[] {
  if (installer === 'apt') {
    return repos.map((r) => ({
      path: `/etc/apt/sources.list.d/${fileStem(r.url)}.list`,
      content: `deb [trusted=yes] ${[r.url, ...r.words].join(' ')}\n`,
      append: true,
    }));
  }
  return repos.map((r, i) => {
    if (r.words.length > 0) {
      throw new StratusError('USAGE', `--extra-os-repos: ${installer} takes a base URL only, not ${JSON.stringify([r.url, ...r.words].join(' '))}`);
    }
    const id = `${fileStem(r.url)}-${i}`;
    return { path: `/etc/yum.repos.d/${id}.repo`, content: `[${id}]\nname=${id}\nbaseurl=${r.url}\ngpgcheck=0\nenabled=1\n`, append: false };
  });
}

/** The shell command writing (or appending) one repository file. */
export function writeFileCommand(f: RepoFile): string {
  return `printf '%s' ${shellQuote(f.content)} ${f.append ? '>>' : '>'} ${shellQuote(f.path)}`;
}

/** A command of the package step: what runs in the guest, and how the step's log shows it. */
export interface GuestCommand { run: string; shown: string }

const plain = (command: string): GuestCommand => ({ run: command, shown: command });
const deferred = (command: string): GuestCommand => ({ run: withServicesDeferred(command), shown: `${command} (the services it enables started at its end)` });

/**
 * The package step's commands, run in order as root, each to succeed: the repository files,
 * the update, the install (§3 step 11). apt's `--force-yes` is gone from apt (deprecated in
 * 1.1): what it still meant here is held packages and downgrades, given by their own options;
 * unsigned repositories are `[trusted=yes]` in their line instead. DEBIAN_FRONTEND keeps
 * debconf from asking anything. The package proxy apt was given at boot
 * (/etc/apt/apt.conf.d/90cloud-init-aptproxy, or the context CD's) is left as it is. apt's
 * update is skipped where it would change nothing: in a VM resumed from a booted base whose
 * index is still the archive's (../apt-index.ts). The install starts the services it enables
 * at its end, not in each maintainer script (apt-install.ts).
 */
export function packageCommands(installer: Installer, packages: string[], repos: Repo[]): GuestCommand[] {
  const files = repoFiles(installer, repos).map((f) => plain(writeFileCommand(f)));
  const names = packages.map(shellQuote).join(' ');
  if (installer === 'apt') {
    return [
      ...files,
      { run: aptUpdateUnlessCurrent(), shown: 'DEBIAN_FRONTEND=noninteractive apt-get update (unless the index a booted base fetched is still the archive\'s)' },
      ...(packages.length ? [deferred(`DEBIAN_FRONTEND=noninteractive apt-get -y --allow-downgrades --allow-change-held-packages install ${names}`)] : []),
    ];
  }
  return [...files, plain(`${installer} -y update`), ...(packages.length ? [plain(`${installer} -y --nogpgcheck install ${names}`)] : [])];
}

/** The shell test that picks dnf over yum on the guest (RPM systems since Fedora 22 and EL 8 have dnf; yum is its alias there). */
export const HAS_DNF = 'command -v dnf >/dev/null 2>&1';

/**
 * Waits for cloud-init to finish its first boot, where there is one: it writes apt's proxy
 * configuration and the user's keys after sshd is already up, and a package step that ran
 * before it would miss the package proxy. Its own failures are the guest's business. Once it
 * wrote /run/cloud-init/result.json (the end of its last stage: always so in a VM resumed from a
 * booted base), no Python is started to ask it (~3 s under emulation). `status --wait` answers
 * "done" between two of its stages, so systemd's "boot finished" is waited for too.
 */
export const CLOUD_INIT_SETTLED = 'if command -v cloud-init >/dev/null 2>&1 && [ ! -e /run/cloud-init/result.json ]; then cloud-init status --wait >/dev/null 2>&1 || true; '
  + 'if command -v systemctl >/dev/null 2>&1; then systemctl is-system-running --wait >/dev/null 2>&1 || true; fi; fi';

/**
 * Run last in a VM whose disk becomes an image: what the build left that would be shared by
 * every VM of the image (issue 11 §3, and the old stratus-create-image's default exclusions:
 * host keys, root's authorized_keys and known_hosts). The host keys, the builder's keys,
 * histories, cloud-init's instance state and logs (but the seed and the maker's scripts) go,
 * and the machine-id is emptied; the next boot makes them anew for its own instance. apt's
 * package index and downloaded packages go too, as in the base image: they are stale by the
 * time the image runs, and a VM resumed from a booted base has an index the build never asked
 * for. POSIX sh: busybox runs it too.
 */
export const FORGET_BUILD = [
  'rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub /etc/dropbear/*_host_key /root/.ssh/authorized_keys /root/.ssh/authorized_keys2',
  '/root/.ssh/known_hosts /root/.bash_history /root/.ash_history /root/.sh_history /root/.lesshst /root/.python_history',
  '/var/log/cloud-init.log /var/log/cloud-init-output.log;',
  'for p in /var/lib/cloud/*; do case "$p" in /var/lib/cloud/seed|/var/lib/cloud/scripts) ;; *) rm -rf "$p" ;; esac; done;',
  'if [ -s /etc/machine-id ]; then : > /etc/machine-id; fi;',
  'if [ -f /var/lib/dbus/machine-id ] && [ ! -L /var/lib/dbus/machine-id ]; then rm -f /var/lib/dbus/machine-id; fi;',
  'if command -v apt-get >/dev/null 2>&1; then apt-get clean; rm -rf /var/lib/apt/lists/*; fi;',
  'sync',
].join(' ');
