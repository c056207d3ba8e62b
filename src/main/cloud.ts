import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Document } from '@xmldom/xmldom';
import { parseXml } from '../metadata/xml/parse.js';
import type { Marketplace } from '../marketplace/marketplace.js';
import type { Database } from '../storage/database.js';
import { InstanceStore } from '../storage/instances.js';
import { VolumeStore } from '../storage/volumes/store.js';
import type { VolumeDriver } from '../storage/volumes/driver.js';
import { ADMIN } from '../accounts/accounts.js';
import type { Accounts } from '../accounts/accounts.js';
import { InstanceDisks } from '../volumes/instance-disks.js';
import { InstanceLayers } from '../volumes/layers.js';
import { LayerStore } from '../storage/layers.js';
import { InstanceService } from '../compute/instances.js';
import { HostNetwork } from '../network/host-network.js';
import { PackageProxy } from '../network/package-proxy.js';
import { ImageCache } from '../cloud/image-cache.js';
import type { EntryViewer } from '../cloud/image-cache.js';
import { CloudService } from '../cloud/cloud.js';
import { UrlImages } from '../cloud/url-image.js';
import { BootedBases } from '../cloud/booted-bases.js';
import { parseUrlAllow, urlGuard } from '../cloud/url-guard.js';
import { adminPasswordFile } from '../platform/data-dir.js';
import type { CloudSettings } from './cloud-settings.js';
import type { Mailer } from '../mail/index.js';
import type { ServiceIdentity } from '../marketplace/service-identity.js';
import { checkDraftTarget, savedImagePublisher } from './save-publish.js';

export interface RunningCloud {
  service: CloudService;
  /** bridge: instances get an address on the server's bridge; user: loopback addresses with forwarded ports. */
  mode: 'bridge' | 'user';
  notices: string[];
  /**
   * Adopts the VMs an earlier server left (resuming an Epilog it was in) and starts the purge of
   * quarantined disks. Called once the server listens: a resumed save's draft and mail name
   * this server's URL, known only then.
   */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface CloudParts {
  settings: CloudSettings;
  dataDir: string;
  database: Database;
  driver: VolumeDriver;
  accounts: Accounts;
  marketplace: Pick<Marketplace, 'listXml' | 'publishServiceDraft'>;
  /** The server's own identity: what saved images' drafts are signed with. */
  service: Pick<ServiceIdentity, 'sign'>;
  /** Where notices to users go (the saved-image mail of §2.4 step 8). */
  mailer: Mailer;
  ownUrl: () => string;
}

/**
 * Starts the cloud: the host network when the server may make one (root), the package proxy on
 * it, the instance service, and adoption of the VMs an earlier server left running. Undone in
 * reverse if a step fails.
 */
export async function startCloud(p: CloudParts): Promise<RunningCloud> {
  const s = p.settings;
  const notices: string[] = [];
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  let mode: 'bridge' | 'user' = s.network === 'auto' ? (root ? 'bridge' : 'user') : s.network;
  let network: HostNetwork | undefined;
  let proxy: PackageProxy | undefined;
  try {
    if (mode === 'bridge') {
      try {
        network = await HostNetwork.open({
          stateDir: join(p.dataDir, 'network'), bridge: s.bridge, pool: s.pool, egress: s.egress,
          ...(s.subnet ? { subnet: s.subnet } : {}), ...(s.proxyPort ? { proxyPort: s.proxyPort } : {}),
        });
        if (s.proxyPort) proxy = await PackageProxy.start({ dir: s.proxyDir, bindAddress: network.hostAddress, port: s.proxyPort });
      } catch (e) {
        // Asked for explicitly, a bridge that cannot be made is an error; chosen by default,
        // the server still serves, with user-mode instances, and says why.
        if (s.network === 'bridge') throw e;
        await proxy?.stop().catch(() => undefined);
        await network?.close().catch(() => undefined);
        network = undefined;
        proxy = undefined;
        mode = 'user';
        notices.push(`WARNING: no instance bridge (${(e as Error).message}); instances use user-mode networking. Set [network] mode = bridge to make this an error.`);
      }
    }
    if (network) {
      notices.push(`Instances get addresses on bridge ${network.bridge} (${network.subnet})${proxy ? `; package proxy at ${proxy.url}` : ''}`);
      notices.push(...network.notices);
    } else {
      notices.push('Instances use user-mode networking (a loopback address each, with the image\'s inbound ports forwarded): run the server as root for a bridge');
    }
    const store = new InstanceStore(p.database);
    const volumeStore = new VolumeStore(p.database);
    const disks = new InstanceDisks(volumeStore, p.driver, p.accounts, ADMIN);
    const layers = new InstanceLayers({ store: new LayerStore(p.database), volumes: volumeStore, disks, dir: join(p.dataDir, 'layers'), capBytes: s.layerCacheMiB * 1024 * 1024 });
    const left = await layers.reconcile();
    if (left.temporary || left.orphans || left.missing || left.stale) {
      notices.push(`Instance layers: removed ${left.temporary} unfinished, ${left.orphans} unrecorded and ${left.stale} stale layer files, and ${left.missing} records without a file`);
    }
    const cache = new ImageCache({
      disks,
      entriesOf: (id, viewer) => entriesOf(p.marketplace, id, viewer),
      ownUrl: p.ownUrl,
      ownCredentials: () => adminCredentials(p.dataDir),
      ...(s.policy ? { policy: s.policy } : {}),
    });
    const instances: InstanceService = new InstanceService({
      store, instancesDir: s.instancesDir, shutdownTimeoutMs: s.shutdownTimeoutMs,
      ...(network ? { network } : {}), ...(proxy ? { proxyUrl: proxy.url } : {}),
      // Called only once instances run, after `cloud` below exists.
      onRelease: async (row): Promise<void> => cloud.released(row),
      onEpilog: async (row): Promise<string | undefined> => cloud.epilog(row),
    });
    const log = (line: string): void => void process.stdout.write(`${line}\n`);
    const booted = s.bootedBases
      ? new BootedBases({
        dir: join(p.dataDir, 'booted'), maxAgeMs: s.bootedBaseMaxAgeMs, maxBases: s.bootedBasesMax, log,
        ...(network ? { network } : {}), ...(proxy ? { proxyUrl: proxy.url } : {}),
      })
      : undefined;
    const half = (await booted?.reconcile()) ?? 0;
    if (half > 0) notices.push(`Booted bases: removed ${half} left half made`);
    const bridge = network;
    const guard = urlGuard({ allow: parseUrlAllow(s.urlAllow, '[instances]'), instanceSubnet: () => bridge?.subnet });
    const urls = new UrlImages({ disks, maxMiB: s.urlMaxMiB, ...(s.policy ? { policy: s.policy } : {}), guard });
    const publish = savedImagePublisher({ marketplace: p.marketplace, service: p.service, mailer: p.mailer, ownUrl: p.ownUrl, guard, validDays: s.builtImageValidDays, log });
    const cloud: CloudService = new CloudService({ instances, store, cache, urls, disks, layers, ...(booted ? { booted } : {}), limits: s.limits, quarantineMs: s.quarantineMs, vnc: s.vnc,
      save: { pdiskEndpoint: p.ownUrl, validDays: s.builtImageValidDays, format: s.savedImageFormat, log, publish, checkTarget: (url) => checkDraftTarget(url, p.ownUrl(), guard) },
    });
    const service = cloud;
    return {
      service, mode, notices,
      start: async () => {
        await instances.adopt();
        cloud.startPurge();
      },
      close: async () => {
        // A base being made is abandoned first: its VM holds a port on the bridge.
        await booted?.close();
        service.close();
        await proxy?.stop();
        // Running VMs outlive the server: their network stays for the next start to adopt.
        if ((await store.live()).length > 0) await network?.leave();
        else await network?.close();
      },
    };
  } catch (e) {
    await proxy?.stop().catch(() => undefined);
    await network?.close().catch(() => undefined);
    throw e;
  }
}

/** The signed entries of an identifier this Marketplace lists as valid to `viewer`: each endorser's latest. */
async function entriesOf(marketplace: Pick<Marketplace, 'listXml'>, identifier: string, viewer: EntryViewer): Promise<Document[]> {
  const listing = await marketplace.listXml({ identifier, status: 'valid', limit: 100 }, viewer);
  const docs: Document[] = [];
  for await (const xml of listing.documents) docs.push(parseXml(xml, { source: `entry ${identifier}` }));
  return docs;
}

/** The pdisk user's credentials, for private image volumes of this server (as StratusLab's pdisk user read them). */
function adminCredentials(dataDir: string): { username: string; password: string } | undefined {
  const preset = process.env.STRATUS_ADMIN_PASSWORD;
  if (preset) return { username: ADMIN, password: preset };
  const file = adminPasswordFile(dataDir);
  return existsSync(file) ? { username: ADMIN, password: readFileSync(file, 'utf8').trim() } : undefined;
}
