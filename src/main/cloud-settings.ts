import { join } from 'node:path';
import { StratusError } from '../domain/errors.js';
import type { InstanceLimits } from '../cloud/cloud.js';
import { DEFAULT_INSTANCE_LIMITS } from '../cloud/cloud.js';
import type { SitePolicy } from '../cloud/site-policy.js';
import { parseVncSettings } from '../cloud/vnc.js';
import type { VncSettings } from '../cloud/vnc.js';
import { DEFAULT_QUARANTINE_MS } from '../volumes/instance-disks.js';
import { DEFAULT_URL_MAX_MIB } from '../cloud/url-image.js';
import { parseUrlAllow } from '../cloud/url-guard.js';
import { BUILT_IMAGE_VALID_DAYS } from '../metadata/entry/saved.js';
import { DEFAULT_LAYER_CACHE_MIB } from '../volumes/layers.js';

/** How `stratus serve` runs instances (`[instances]`, `[network]`, `[quarantine]` and `[policy]` in stratus.cfg). */
export interface CloudSettings {
  instancesDir: string;
  /** bridge: a host-only bridge (needs root); user: QEMU's user-mode networking; auto: bridge when root. */
  network: 'auto' | 'bridge' | 'user';
  bridge: string;
  subnet?: string;
  pool: string;
  egress: 'none' | 'nat';
  /** The package proxy's port on the bridge address; 0: no proxy. */
  proxyPort: number;
  proxyDir: string;
  shutdownTimeoutMs: number;
  limits: InstanceLimits;
  quarantineMs: number;
  policy?: SitePolicy;
  /** Addresses and CIDR blocks a plain URL may reach although they are the server's own or the instance network's. */
  urlAllow: string[];
  /** The largest image a plain URL may give, in MiB. */
  urlMaxMiB: number;
  vnc: VncSettings;
  /** built_image_validity_period: the days a --save image's draft entry is valid (§2.4 step 4). */
  builtImageValidDays: number;
  /** saved_image_format: what a --save image is stored as (qcow2: the clusters the disk stores; raw: the whole disk). */
  savedImageFormat: 'qcow2' | 'raw';
  /** layer_cache_mib: what one account's cached instance layers may take together, in MiB. */
  layerCacheMiB: number;
  /** booted_bases: plain starts that ask for it resume an image's booted base (cloud/booted-bases.ts). */
  bootedBases: boolean;
  /** booted_base_max_age_h: a booted base older than this is made again (its package index ages). */
  bootedBaseMaxAgeMs: number;
  /** booted_bases_max: how many booted bases are kept (the least recently used go first). */
  bootedBasesMax: number;
}

type Get = (section: string, key: string) => string | undefined;

/**
 * Reads, all optional:
 *   [instances] instances_dir (default <data-dir>/instances), shutdown_timeout_s (120),
 *               max_instances (per account, 10), max_cpu, max_ram_mib (per account; none),
 *               url_allow (addresses or CIDR blocks plain image URLs may reach although they
 *               are loopback, link-local, this host's or the instance network's; none),
 *               url_max_mib (the largest image a plain URL may give; 20480),
 *               vnc_ports (the ports instances' VNC servers take, 5900-5999; QEMU counts them
 *               from 5900), vnc_listen_allowed (addresses besides loopback that --vnc-listen
 *               may name: IP addresses, CIDR blocks, or any; default none. Every VNC server asks
 *               for a password, which only the instance's owner is shown, but VNC sends the
 *               screen unencrypted: prefer SSH tunnels to opening it),
 *               built_image_validity_period (days a --save image's draft entry is valid; 2),
 *               saved_image_format (qcow2 | raw: a --save image as a standalone qcow2 of the
 *               clusters its disk stores, or as the whole raw disk; qcow2),
 *               layer_cache_mib (what one account's cached instance layers may take, in MiB;
 *               20480, or none; the least recently used that no live instance started from
 *               go first),
 *               booted_bases (on | off: an image booted once per VM shape and saved running,
 *               which stratus-create-image's VMs resume instead of booting; on),
 *               booted_base_max_age_h (a booted base older than this is made again; 24),
 *               booted_bases_max (how many are kept, each its VM's memory and a disk delta,
 *               the least recently used going first; 4)
 *   [network]   mode (auto | bridge | user | none: no cloud service), bridge (stratus0), subnet (a /24; default: the
 *               first free /24 of pool), pool (10.213.0.0/16), egress (none | nat),
 *               proxy_port (3142; 0: no package proxy), proxy_dir (the proxy's cache, default
 *               /var/cache/stratus/package-proxy/<bridge>: every folder above it must be
 *               searchable by the apt-cacher-ng user)
 *   [quarantine] quarantine_period (15m; m, h or d, a plain number is minutes)
 *   [policy]    whitelistendorsers, blacklistendorsers, whitelistimages, blacklistimages,
 *               whitelistchecksums, blacklistchecksums (lists, one item per line or comma-separated)
 */
export function loadCloudSettings(get: Get, dataDir: string, cfgPath: string): CloudSettings {
  const bad = (section: string, key: string, value: string, want: string): never => {
    throw new StratusError('CONFIG_INVALID', `${cfgPath}: [${section}] ${key} = ${value} is not ${want}`);
  };
  const whole = (section: string, key: string, fallback: number | null, min = 0): number | null => {
    const raw = get(section, key)?.trim();
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'none' || raw === 'unlimited') return null;
    const n = Number(raw);
    return /^\d+$/.test(raw) && Number.isSafeInteger(n) && n >= min ? n : bad(section, key, raw, `a whole number ≥ ${min}`);
  };
  const choice = <T extends string>(section: string, key: string, options: readonly T[], fallback: T): T => {
    const raw = get(section, key)?.trim();
    if (raw === undefined || raw === '') return fallback;
    return (options as readonly string[]).includes(raw) ? (raw as T) : bad(section, key, raw, options.join(' or '));
  };
  const subnet = get('network', 'subnet')?.trim();
  // Read now, so a bad item stops the server at start-up rather than the first run.
  parseUrlAllow((get('instances', 'url_allow') ?? '').split(/[\n,]/).map((x) => x.trim()).filter(Boolean), `${cfgPath}: [instances]`);
  const policy = sitePolicy(get);
  return {
    instancesDir: get('instances', 'instances_dir') ?? join(dataDir, 'instances'),
    network: choice('network', 'mode', ['auto', 'bridge', 'user'] as const, 'auto'),
    bridge: get('network', 'bridge')?.trim() || 'stratus0',
    ...(subnet ? { subnet } : {}),
    pool: get('network', 'pool')?.trim() || '10.213.0.0/16',
    egress: choice('network', 'egress', ['none', 'nat'] as const, 'none'),
    proxyPort: whole('network', 'proxy_port', 3142) ?? 0,
    // Outside the data dir, which is private: the proxy runs as its own user and must reach its folder.
    proxyDir: get('network', 'proxy_dir')?.trim() || join('/var/cache/stratus/package-proxy', get('network', 'bridge')?.trim() || 'stratus0'),
    shutdownTimeoutMs: (whole('instances', 'shutdown_timeout_s', 120, 1) ?? 120) * 1000,
    limits: {
      instances: whole('instances', 'max_instances', DEFAULT_INSTANCE_LIMITS.instances, 1),
      cpu: whole('instances', 'max_cpu', DEFAULT_INSTANCE_LIMITS.cpu, 1),
      ramMiB: whole('instances', 'max_ram_mib', DEFAULT_INSTANCE_LIMITS.ramMiB, 16),
    },
    quarantineMs: quarantinePeriod(get('quarantine', 'quarantine_period'), cfgPath),
    urlAllow: (get('instances', 'url_allow') ?? '').split(/[\n,]/).map((x) => x.trim()).filter(Boolean),
    urlMaxMiB: whole('instances', 'url_max_mib', DEFAULT_URL_MAX_MIB, 1) ?? DEFAULT_URL_MAX_MIB,
    builtImageValidDays: whole('instances', 'built_image_validity_period', BUILT_IMAGE_VALID_DAYS, 1) ?? BUILT_IMAGE_VALID_DAYS,
    savedImageFormat: choice('instances', 'saved_image_format', ['qcow2', 'raw'] as const, 'qcow2'),
    // none (or unlimited): no bound but the disk's.
    layerCacheMiB: whole('instances', 'layer_cache_mib', DEFAULT_LAYER_CACHE_MIB, 0) ?? Number.POSITIVE_INFINITY,
    bootedBases: choice('instances', 'booted_bases', ['on', 'off'] as const, 'on') === 'on',
    bootedBaseMaxAgeMs: (whole('instances', 'booted_base_max_age_h', 24, 1) ?? 24) * 3600 * 1000,
    bootedBasesMax: whole('instances', 'booted_bases_max', 4, 1) ?? 4,
    vnc: parseVncSettings(get('instances', 'vnc_ports'), get('instances', 'vnc_listen_allowed'), (key, value, want) => bad('instances', key, value, want)),
    ...(policy ? { policy } : {}),
  };
}

/** §11.4: `15m`, `2h`, `1d`, or a plain number of minutes. */
export function quarantinePeriod(raw: string | undefined, cfgPath = 'stratus.cfg'): number {
  if (raw === undefined || raw.trim() === '') return DEFAULT_QUARANTINE_MS;
  const m = /^(\d+)\s*([mhd]?)$/.exec(raw.trim());
  if (!m) throw new StratusError('CONFIG_INVALID', `${cfgPath}: Invalid quarantine_period parameter ${raw.trim()}`, { hint: 'Give minutes (15 or 15m), hours (2h) or days (1d).' });
  const unit = { '': 60_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as '' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

function sitePolicy(get: Get): SitePolicy | undefined {
  const list = (key: string): string[] | undefined => {
    const items = (get('policy', key) ?? '').split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
    return items.length ? items : undefined;
  };
  const policy: SitePolicy = {};
  const keys = [['whitelistendorsers', 'whitelistEndorsers'], ['blacklistendorsers', 'blacklistEndorsers'], ['whitelistimages', 'whitelistImages'],
    ['blacklistimages', 'blacklistImages'], ['whitelistchecksums', 'whitelistChecksums'], ['blacklistchecksums', 'blacklistChecksums']] as const;
  for (const [key, field] of keys) {
    const items = list(key);
    if (items) policy[field] = items;
  }
  return Object.keys(policy).length ? policy : undefined;
}
