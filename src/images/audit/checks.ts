import type { Entry, FsView } from './fs-view.js';

/**
 * The seed's checklist for images built from scratch ("Building Images from Scratch"), as an
 * offline audit of the root file system: contextualization, DHCP, no udev persistent-net rules,
 * no secrets or passwords, SSH by key only, a firewall; and what starts at boot. Each finding
 * has a severity, the path it is about, and how to fix it; `fixable` says whether --sysprep
 * can fix it offline.
 */

export type Severity = 'info' | 'warning' | 'error';

export interface Finding {
  severity: Severity;
  check: 'context' | 'dhcp' | 'net-rules' | 'host-keys' | 'authorized-keys' | 'private-keys' | 'history' | 'passwords' | 'machine-id' | 'cloud-state' | 'ssh' | 'firewall' | 'services';
  path: string;
  message: string;
  hint: string;
  fixable: boolean;
}

const HOMES_DEPTH = 4;
const HOMES_FILES = 2000;
const KEY_FILE_MAX = 64 * 1024;

export async function auditFs(fs: FsView): Promise<Finding[]> {
  const dirs = await fs.list([
    '/etc/ssh', '/etc/ssh/sshd_config.d', '/etc/udev/rules.d', '/lib/udev/rules.d', '/usr/lib/udev/rules.d', '/etc/systemd/network',
    '/etc/network/interfaces.d', '/etc/netplan', '/var/lib/cloud/instances', '/usr/bin', '/usr/sbin', '/sbin', '/etc/dropbear',
    '/etc/systemd/system/multi-user.target.wants', '/etc/systemd/system/sysinit.target.wants', '/etc/systemd/system/network-online.target.wants',
    '/etc/systemd/system/sockets.target.wants', '/etc/systemd/system/cloud-init.target.wants', '/etc/one-context.d',
  ]);
  const names = (d: string): string[] => (dirs.get(d) ?? []).map((e) => e.name);
  const has = (d: string, n: string): boolean => names(d).includes(n);
  const tree = await walk(fs, ['/root', '/home']);
  const confs = (d: string, re: RegExp): string[] => (dirs.get(d) ?? []).filter((e) => e.type === 'file' && re.test(e.name)).map((e) => `${d}/${e.name}`);
  const sshdDropIns = confs('/etc/ssh/sshd_config.d', /\.conf$/).sort();
  const histories = tree.filter((f) => /\/\.(bash|ash|sh|zsh)_history$|\/\.python_history$|\/\.mysql_history$|\/\.lesshst$/.test(f.path) && f.size > 0);
  const authorized = tree.filter((f) => /\/\.ssh\/authorized_keys2?$/.test(f.path));
  const keyCandidates = tree.filter((f) => f.size > 0 && f.size <= KEY_FILE_MAX);
  const files = await fs.read([
    '/etc/ssh/sshd_config', ...sshdDropIns, '/etc/shadow', '/etc/machine-id', '/var/lib/dbus/machine-id', '/etc/network/interfaces',
    ...confs('/etc/network/interfaces.d', /./), ...confs('/etc/systemd/network', /\.network$/), ...confs('/etc/netplan', /\.ya?ml$/),
    '/etc/nftables.conf', '/etc/init.d/rcS', '/etc/default/dropbear', ...keyCandidates.map((f) => f.path),
  ]);
  const text = (p: string): string | undefined => files.get(p)?.toString('utf8');
  const out: Finding[] = [];
  const add = (f: Finding): void => { out.push(f); };

  // ---- contextualization ----
  const agents = [
    has('/usr/bin', 'cloud-init') ? 'cloud-init (/usr/bin/cloud-init)' : undefined,
    has('/usr/sbin', 'stratus-context') ? 'the Stratus agent (/usr/sbin/stratus-context)' : undefined,
    dirs.get('/etc/one-context.d') ? 'OpenNebula one-context (/etc/one-context.d)' : undefined,
  ].filter((a): a is string => a !== undefined);
  if (agents.length) add({ severity: 'info', check: 'context', path: '/', message: `contextualization agent: ${agents.join(', ')}`, hint: 'Nothing to do.', fixable: false });
  else add({ severity: 'error', check: 'context', path: '/usr/bin/cloud-init', message: 'no contextualization agent: the image will not take the user\'s SSH keys or scripts', hint: 'Install cloud-init (NoCloud and OpenNebula datasources) or an OpenNebula context package.', fixable: false });

  // ---- DHCP on the first NIC ----
  const dhcp = [
    ...confs('/etc/systemd/network', /\.network$/).filter((p) => /^\s*DHCP\s*=\s*(yes|true|ipv4|both)\s*$/im.test(text(p) ?? '')),
    ...['/etc/network/interfaces', ...confs('/etc/network/interfaces.d', /./)].filter((p) => /^\s*iface\s+\S+\s+inet\s+dhcp\b/m.test(text(p) ?? '')),
    ...confs('/etc/netplan', /\.ya?ml$/).filter((p) => /dhcp4:\s*(true|yes)/.test(text(p) ?? '')),
    ...(/\b(udhcpc|dhclient|dhcpcd)\b/.test(text('/etc/init.d/rcS') ?? '') ? ['/etc/init.d/rcS'] : []),
  ];
  if (dhcp.length) add({ severity: 'info', check: 'dhcp', path: dhcp[0] as string, message: `DHCP configured in ${dhcp.join(', ')}`, hint: 'Nothing to do.', fixable: false });
  else if (has('/usr/bin', 'cloud-init')) add({ severity: 'info', check: 'dhcp', path: '/usr/bin/cloud-init', message: 'no DHCP configuration of its own: cloud-init renders DHCP on the first NIC at boot', hint: 'Nothing to do.', fixable: false });
  else add({ severity: 'warning', check: 'dhcp', path: '/etc/network/interfaces', message: 'no DHCP configuration found for the first NIC: the VM may get no address', hint: 'Configure DHCP on the first NIC (systemd-networkd DHCP=yes, ifupdown "iface eth0 inet dhcp", or netplan dhcp4: true).', fixable: false });

  // ---- udev persistent-net rules ----
  for (const d of ['/etc/udev/rules.d']) {
    for (const n of names(d).filter((x) => /persistent-net/.test(x) && /\.rules$/.test(x))) {
      add({ severity: 'error', check: 'net-rules', path: `${d}/${n}`, message: 'udev persistent-net rules pin the NIC names to the MACs of the machine the image was made on: a new VM gets eth1 and no network', hint: 'Delete the file.', fixable: true });
    }
  }
  for (const d of ['/lib/udev/rules.d', '/usr/lib/udev/rules.d']) {
    for (const n of names(d).filter((x) => /persistent-net-generator/.test(x))) {
      add({ severity: 'warning', check: 'net-rules', path: `${d}/${n}`, message: 'the persistent-net rule generator writes new rules at the next boot', hint: 'Delete the generator (the seed\'s advice: rm /lib/udev/rules.d/*net-gen*).', fixable: true });
    }
  }

  // ---- secrets ----
  for (const n of names('/etc/ssh').filter((x) => /^ssh_host_.*_key$/.test(x))) {
    add({ severity: 'error', check: 'host-keys', path: `/etc/ssh/${n}`, message: 'an SSH host private key: every VM of the image would share it', hint: 'Delete /etc/ssh/ssh_host_*; cloud-init (or ssh-keygen -A at boot) makes new ones per instance.', fixable: true });
  }
  for (const n of names('/etc/dropbear').filter((x) => /host_key$/.test(x))) {
    add({ severity: 'error', check: 'host-keys', path: `/etc/dropbear/${n}`, message: 'a dropbear host key: every VM of the image would share it', hint: 'Delete it; make it at boot when missing.', fixable: true });
  }
  for (const f of authorized.filter((a) => a.size > 0)) {
    add({ severity: 'error', check: 'authorized-keys', path: f.path, message: 'authorized SSH keys: their owners could log in to every VM of the image', hint: 'Empty the file; keys come from the context at boot.', fixable: true });
  }
  for (const f of keyCandidates) {
    if (/-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/.test(files.get(f.path)?.toString('latin1') ?? '')) {
      add({ severity: 'error', check: 'private-keys', path: f.path, message: 'a private key, readable by whoever runs the image', hint: 'Delete it; give VMs their keys through the context or a volume.', fixable: true });
    }
  }
  for (const f of histories) add({ severity: 'warning', check: 'history', path: f.path, message: 'a shell history: it may hold passwords and commands typed while making the image', hint: 'Delete it.', fixable: true });
  for (const line of (text('/etc/shadow') ?? '').split('\n')) {
    const [user, hash] = line.split(':');
    if (!user || hash === undefined) continue;
    if (hash === '') add({ severity: 'error', check: 'passwords', path: '/etc/shadow', message: `account ${user} has an empty password`, hint: `Lock it: usermod -p '!' ${user}.`, fixable: true });
    else if (!/^[*!]/.test(hash)) add({ severity: 'error', check: 'passwords', path: '/etc/shadow', message: `account ${user} has a password`, hint: `Lock it (usermod -p '!' ${user}); log in with keys from the context.`, fixable: true });
  }
  for (const p of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    const id = text(p)?.trim();
    if (id) add({ severity: 'warning', check: 'machine-id', path: p, message: `a machine-id (${id.slice(0, 8)}…): every VM of the image would share it (and its DHCP DUID)`, hint: 'Empty /etc/machine-id (and delete /var/lib/dbus/machine-id); systemd makes one per VM.', fixable: true });
  }
  const instances = names('/var/lib/cloud/instances');
  if (instances.length) add({ severity: 'warning', check: 'cloud-state', path: '/var/lib/cloud/instances', message: `cloud-init state of ${instances.length} earlier instance(s) (${instances.slice(0, 3).join(', ')})`, hint: 'Delete /var/lib/cloud (cloud-init clean).', fixable: true });

  // ---- SSH: keys only ----
  if (has('/usr/sbin', 'sshd')) {
    const cfg = effectiveSshd([text('/etc/ssh/sshd_config') ?? ''], sshdDropIns.map((p) => text(p) ?? ''));
    const pw = cfg.get('passwordauthentication') ?? 'yes';
    if (pw !== 'no') add({ severity: 'error', check: 'ssh', path: '/etc/ssh/sshd_config', message: `sshd takes passwords (PasswordAuthentication ${pw}${cfg.has('passwordauthentication') ? '' : ', the default'})`, hint: 'Set PasswordAuthentication no (in /etc/ssh/sshd_config.d/, read first).', fixable: false });
    const root = cfg.get('permitrootlogin') ?? 'prohibit-password';
    if (root === 'yes') add({ severity: 'error', check: 'ssh', path: '/etc/ssh/sshd_config', message: 'sshd lets root log in with a password (PermitRootLogin yes)', hint: 'Set PermitRootLogin prohibit-password.', fixable: false });
    if (pw === 'no' && root !== 'yes') add({ severity: 'info', check: 'ssh', path: '/etc/ssh/sshd_config', message: `OpenSSH: keys only (PasswordAuthentication no, PermitRootLogin ${root})`, hint: 'Nothing to do.', fixable: false });
  } else if (/\bdropbear\b/.test(text('/etc/init.d/rcS') ?? '') || has('/usr/sbin', 'dropbear') || has('/sbin', 'dropbear')) {
    const line = (text('/etc/init.d/rcS') ?? '').split('\n').find((l) => /^\s*dropbear\s/.test(l)) ?? text('/etc/default/dropbear') ?? '';
    if (/(^|\s)-s(\s|$)/.test(line)) add({ severity: 'info', check: 'ssh', path: '/etc/init.d/rcS', message: 'dropbear: keys only (-s)', hint: 'Nothing to do.', fixable: false });
    else add({ severity: 'error', check: 'ssh', path: '/etc/init.d/rcS', message: 'dropbear takes passwords (no -s)', hint: 'Start dropbear with -s.', fixable: false });
  } else {
    add({ severity: 'warning', check: 'ssh', path: '/usr/sbin/sshd', message: 'no SSH server found', hint: 'Install openssh-server: users log in over SSH.', fixable: false });
  }

  // ---- firewall, and what starts at boot ----
  const wants = ['/etc/systemd/system/sysinit.target.wants', '/etc/systemd/system/multi-user.target.wants', '/etc/systemd/system/network-online.target.wants',
    '/etc/systemd/system/sockets.target.wants', '/etc/systemd/system/cloud-init.target.wants'].flatMap(names);
  const firewalls = wants.filter((n) => /^(nftables|ufw|firewalld|iptables|netfilter-persistent)\.service$/.test(n));
  // A busybox image (ttylinux) loads its ruleset from its boot script.
  const rcsNft = (text('/etc/init.d/rcS') ?? '').split('\n').some((l) => /^\s*nft\s+-f\s+\/etc\/nftables\.conf\b/.test(l));
  if (firewalls.includes('nftables.service') || rcsNft) {
    const conf = text('/etc/nftables.conf') ?? '';
    const by = rcsNft && !firewalls.includes('nftables.service') ? ' (/etc/init.d/rcS)' : '';
    if (/hook\s+input[^;]*;\s*policy\s+drop/.test(conf) || /policy\s+drop/.test(conf)) add({ severity: 'info', check: 'firewall', path: '/etc/nftables.conf', message: `nftables at boot${by}, inbound policy drop`, hint: 'Nothing to do.', fixable: false });
    else add({ severity: 'warning', check: 'firewall', path: '/etc/nftables.conf', message: 'nftables starts at boot, but its ruleset drops nothing by default', hint: 'Give the input chain policy drop and accept only the ports the image serves.', fixable: false });
  } else if (firewalls.length) {
    add({ severity: 'info', check: 'firewall', path: '/etc/systemd/system', message: `firewall at boot: ${firewalls.join(', ')}`, hint: 'Nothing to do.', fixable: false });
  } else {
    add({ severity: 'warning', check: 'firewall', path: '/etc/systemd/system', message: 'no firewall starts at boot', hint: 'Enable nftables (or ufw, firewalld) with an inbound policy of drop.', fixable: false });
  }
  if (wants.length) add({ severity: 'info', check: 'services', path: '/etc/systemd/system', message: `enabled at boot: ${[...new Set(wants)].sort().join(', ')}`, hint: 'Disable what the image does not need (systemctl disable).', fixable: false });
  return out;
}

/** The regular files under `roots`, a few levels deep and bounded in number (an attacker's image can hold millions). */
async function walk(fs: FsView, roots: string[]): Promise<Array<{ path: string; size: number }>> {
  const files: Array<{ path: string; size: number }> = [];
  let level = roots;
  for (let depth = 0; depth < HOMES_DEPTH && level.length && files.length < HOMES_FILES; depth++) {
    const listed = await fs.list(level);
    const next: string[] = [];
    for (const [dir, entries] of listed) {
      for (const e of entries ?? ([] as Entry[])) {
        const path = `${dir === '/' ? '' : dir}/${e.name}`;
        if (e.type === 'file' && files.length < HOMES_FILES) files.push({ path, size: e.size });
        else if (e.type === 'dir') next.push(path);
      }
    }
    level = next;
  }
  return files;
}

/**
 * sshd's effective settings for two keys: the first value read wins, files in the order sshd
 * reads them (Debian's sshd_config includes sshd_config.d/*.conf at its top); a Match block
 * ends what applies to every connection.
 */
export function effectiveSshd(main: string[], dropIns: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const take = (text: string): boolean => {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const [key = '', value = ''] = line.split(/\s+|=/).filter(Boolean);
      const k = key.toLowerCase();
      if (k === 'match') return false;
      if (k === 'include') {
        for (const d of dropIns) if (!take(d)) return false;
        continue;
      }
      if (!out.has(k)) out.set(k, value.toLowerCase());
    }
    return true;
  };
  for (const m of main) take(m);
  return out;
}

const RANK: Readonly<Record<Severity, number>> = { error: 0, warning: 1, info: 2 };

/** The findings, errors first, then warnings, then the rest (each group in the audit's order). */
export function byWorst(findings: Finding[]): Finding[] {
  return [...findings].sort((a, b) => RANK[a.severity] - RANK[b.severity]);
}

export function worstSeverity(findings: Finding[]): Severity {
  return findings.some((f) => f.severity === 'error') ? 'error' : findings.some((f) => f.severity === 'warning') ? 'warning' : 'info';
}
