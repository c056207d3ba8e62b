import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { StratusError } from '../domain/errors.js';
import { parseIni, interpolate } from '../platform/ini.js';
import { availableParallelism } from 'node:os';
import { DEFAULT_MAX_CREATED_AHEAD_SECONDS, compileTrust } from '../marketplace/verifier.js';
import type { TrustSettings } from '../marketplace/verifier.js';
import { workerVerifier } from '../marketplace/worker-verifier.js';
import { openDatabase } from '../storage/database.js';
import type { Database } from '../storage/database.js';
import { EntryStore } from '../storage/entries.js';
import { Marketplace } from '../marketplace/marketplace.js';
import { defaultServiceNames, serviceIdentity } from '../marketplace/service-identity.js';
import type { ServiceIdentity, ServiceNames } from '../marketplace/service-identity.js';
import { buildApp } from '../api/build-app.js';
import { Accounts } from '../accounts/accounts.js';
import { UserStore } from '../storage/users.js';
import { VolumeStore } from '../storage/volumes/store.js';
import { createFileVolumeDriver } from '../storage/volumes/file-driver.js';
import { DEFAULT_MAX_VOLUME_GIB, VolumeService } from '../volumes/service.js';
import { writeFileAtomic } from '../platform/files.js';
import { adminPasswordFile } from '../platform/data-dir.js';
import { loadServerLimits } from './server-limits.js';
import type { ServerLimits } from './server-limits.js';
import { loadCloudSettings } from './cloud-settings.js';
import type { CloudSettings } from './cloud-settings.js';
import { startCloud } from './cloud.js';
import { createMailer, loadMailSettings, mailDestinationLine } from '../mail/index.js';
import type { Mailer, MailSettings } from '../mail/index.js';
import { PendingUploadStore } from '../storage/pending-uploads.js';
import { loadMarketplaceMail, marketplaceMailOptions, startMarketplaceRounds } from './marketplace-mail.js';
import type { MarketplaceMailSettings } from './marketplace-mail.js';

/** Everything `stratus serve` needs; each field has a default from the data dir. */
export interface ServerSettings {
  dataDir: string;
  host: string;
  port: number;
  /** SQLite file path or postgres:// URL. */
  database: string;
  maxMetadataBytes: number;
  /** How far ahead of this server's clock an endorsement date may be, in seconds. */
  maxCreatedAheadSeconds: number;
  trust?: TrustSettings;
  /** Worker threads that verify uploads (0: verify on the main thread). */
  verifyThreads: number;
  /** Where volume bytes live (default <data-dir>/volumes). */
  volumesDir: string;
  /** fsync volume data before it is committed (default true). */
  durable: boolean;
  /** The largest volume create and upload make, in GiB (default 1024). */
  maxVolumeGib: number;
  /** Connection, body, login and upload limits, and the public URL (server-limits.ts). */
  limits: ServerLimits;
  /** PEM files for HTTPS; HTTP when absent. */
  tls?: { cert: string; key: string };
  logger: boolean;
  /** Instances, their network and disks (cloud-settings.ts); no cloud service when absent. */
  cloud?: CloudSettings;
  /** The SMTP server, or the outbox when [mail] has no host (mail/settings.ts). */
  mail: MailSettings;
  /** Confirmation of uploads by e-mail, abuse reports and endorser reminders (marketplace-mail.ts). */
  marketplaceMail: MarketplaceMailSettings;
  /** The names the service identity (the P12 that signs drafts) is made with, once. */
  serviceNames: ServiceNames;
}

/**
 * Reads <data-dir>/stratus.cfg (INI) if present. Keys, all optional:
 *   [server] host, port, database, identity_name and identity_email (the CN and e-mail of
 *            the service identity that signs drafts, used when it is made; default
 *            "stratus service <host>", stratus-service@<host>)
 *   [marketplace] max_metadata_bytes, trust_endorsers (file of RFC 2253 DNs, one per line),
 *                 trust_ca_bundle (PEM file of CA certificates), verify_threads,
 *                 max_created_ahead_seconds (how far ahead of this server's clock an
 *                 endorsement date may be; default 300), validate_email, pending_upload_hours,
 *                 admin_email, endorser_reminder (loadMarketplaceMail)
 *   [pdisk] volumes_dir, fsync (true|false), max_volume_gib (the largest volume, whole GiB;
 *           default 1024: an upload is stopped as soon as its content passes it)
 *   [mail] host, port, security, user, password, from, ca_file, timeout_s (loadMailSettings)
 *   and the limits of loadServerLimits (public_url, timeouts, connection caps, login and
 *   anonymous-upload rates; max_metadata_bytes, default 64 KiB).
 * Command-line options override the file.
 */
export function loadServerSettings(opts: { dataDir: string; host?: string; port?: number; database?: string; config?: string; logger?: boolean; network?: string; bootedBases?: string }): ServerSettings {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const cfgPath = opts.config ?? join(dataDir, 'stratus.cfg');
  const sections = existsSync(cfgPath) ? parseIni(readFileSync(cfgPath, 'utf8'), cfgPath) : new Map<string, Map<string, string>>();
  const get = (section: string, key: string): string | undefined => interpolate(sections, section, key);
  const port = opts.port ?? Number(get('server', 'port') ?? 9204);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new StratusError('CONFIG_INVALID', `port ${port} is not 0-65535`);
  const limits = loadServerLimits(get, cfgPath);
  const settings: ServerSettings = {
    dataDir,
    host: opts.host ?? get('server', 'host') ?? '127.0.0.1',
    port,
    database: opts.database ?? get('server', 'database') ?? join(dataDir, 'stratus.db'),
    serviceNames: { ...defaultServiceNames(), ...definedNames(get('server', 'identity_name'), get('server', 'identity_email')) },
    maxMetadataBytes: limits.maxMetadataBytes,
    maxCreatedAheadSeconds: wholeNumber(get('marketplace', 'max_created_ahead_seconds') ?? String(DEFAULT_MAX_CREATED_AHEAD_SECONDS), 'max_created_ahead_seconds', cfgPath, 0),
    verifyThreads: Number(get('marketplace', 'verify_threads') ?? Math.max(1, availableParallelism() - 1)),
    volumesDir: get('pdisk', 'volumes_dir') ?? join(dataDir, 'volumes'),
    durable: (get('pdisk', 'fsync') ?? 'true') !== 'false',
    maxVolumeGib: positiveInt(get('pdisk', 'max_volume_gib') ?? String(DEFAULT_MAX_VOLUME_GIB), 'max_volume_gib', cfgPath),
    limits,
    logger: opts.logger ?? false,
    mail: loadMailSettings((key) => get('mail', key), dataDir, cfgPath, sections.get('mail')?.keys()),
    marketplaceMail: loadMarketplaceMail((key) => get('marketplace', key), cfgPath),
  };
  const network = opts.network ?? get('network', 'mode')?.trim();
  if (network !== 'none') {
    const given = (section: string, key: string): string | undefined => {
      if (section === 'network' && key === 'mode') return network;
      if (section === 'instances' && key === 'booted_bases' && opts.bootedBases !== undefined) return opts.bootedBases;
      return get(section, key);
    };
    settings.cloud = loadCloudSettings(given, dataDir, opts.network ? '--network' : opts.bootedBases !== undefined ? '--booted-bases' : cfgPath);
  }
  const tlsCert = get('server', 'tls_cert');
  const tlsKey = get('server', 'tls_key');
  if (!!tlsCert !== !!tlsKey) throw new StratusError('CONFIG_INVALID', `${cfgPath}: tls_cert and tls_key go together`);
  if (tlsCert && tlsKey) settings.tls = { cert: tlsCert, key: tlsKey };
  const trust = trustPolicy(get('marketplace', 'trust_endorsers'), get('marketplace', 'trust_ca_bundle'), cfgPath);
  if (trust) settings.trust = trust;
  return settings;
}

function positiveInt(value: string, key: string, cfgPath: string): number {
  return wholeNumber(value, key, cfgPath, 1);
}

function wholeNumber(value: string, key: string, cfgPath: string, min: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
    throw new StratusError('CONFIG_INVALID', `${cfgPath}: ${key} = ${value} is not a whole number ≥ ${min}`);
  }
  return n;
}

function definedNames(commonName: string | undefined, email: string | undefined): Partial<ServiceNames> {
  return { ...(commonName ? { commonName } : {}), ...(email ? { email } : {}) };
}

function trustPolicy(endorsersFile: string | undefined, caFile: string | undefined, cfgPath: string): TrustSettings | undefined {
  if (!endorsersFile && !caFile) return undefined;
  const policy: TrustSettings = {};
  const read = (file: string, key: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      throw new StratusError('CONFIG_INVALID', `${cfgPath}: ${key} names ${file}, which cannot be read`);
    }
  };
  if (endorsersFile) {
    policy.endorsers = read(endorsersFile, 'trust_endorsers').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  }
  if (caFile) {
    const pem = read(caFile, 'trust_ca_bundle');
    const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new StratusError('CONFIG_INVALID', `${cfgPath}: trust_ca_bundle ${caFile} holds no PEM certificate`);
    policy.caPems = blocks;
    compileTrust(policy); // fail at start-up, not on the first upload, if a CA cannot be read
  }
  return policy;
}

export interface RunningServer {
  app: FastifyInstance;
  database: Database;
  marketplace: Marketplace;
  /** The server's own identity: what drafts are signed with (Marketplace.publishDraft). */
  service: ServiceIdentity;
  url: string;
  /** Lines worth telling the operator at start-up (admin password file, repairs). */
  notices: string[];
  mailer: Mailer;
  close(): Promise<void>;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** Wires the services onto the database and starts listening. */
export async function startServer(settings: ServerSettings): Promise<RunningServer> {
  // Before the database: a mailer that cannot be made leaves nothing open.
  const mailer = createMailer(settings.mail);
  const database = await openDatabase(settings.database);
  const trust = settings.trust;
  const verifier = settings.verifyThreads > 0
    ? workerVerifier(settings.verifyThreads, { maxBytes: settings.maxMetadataBytes, maxCreatedAheadSeconds: settings.maxCreatedAheadSeconds, fields: database.entryFields, ...(trust ? { trust } : {}) })
    : undefined;
  const compiled = compileTrust(trust);
  const service = serviceIdentity(settings.dataDir, settings.serviceNames);
  const { limits } = settings;
  let url = '';
  // Mail written without a request (reminders, abuse reports) names the configured public URL, else the address listened on.
  const ownUrl = (): string => limits.publicUrl ?? url;
  const log = (line: string): void => { process.stdout.write(`${line}\n`); };
  const entries = new EntryStore(database);
  const marketplace = new Marketplace(entries, {
    service,
    pending: new PendingUploadStore(database, entries),
    ...marketplaceMailOptions(settings.marketplaceMail, mailer, ownUrl, log),
    maxBytes: settings.maxMetadataBytes,
    maxCreatedAheadSeconds: settings.maxCreatedAheadSeconds,
    ...(verifier ? { verifier } : {}),
    ...(compiled ? { trust: compiled } : {}),
  });
  const notices: string[] = [];
  notices.push(mailDestinationLine(settings.mail));
  const accounts = new Accounts(new UserStore(database));
  const admin = await accounts.ensureAdmin(process.env.STRATUS_ADMIN_PASSWORD || undefined);
  if (admin.password) {
    const file = adminPasswordFile(settings.dataDir);
    writeFileAtomic(file, admin.password + '\n', 0o600);
    notices.push(`Created the admin account; its password is in ${file} (readable by its owner only)`);
  } else if (admin.created) {
    notices.push('Created the admin account with the password from STRATUS_ADMIN_PASSWORD');
  }
  const driver = createFileVolumeDriver(settings.volumesDir, { durable: settings.durable });
  const volumes = new VolumeService(new VolumeStore(database), driver, accounts, { maxVolumeGib: settings.maxVolumeGib });
  const repaired = await volumes.reconcile();
  if (repaired.temporary || repaired.orphans.length) {
    notices.push(`Cleaned up after an interrupted run: ${repaired.temporary} temporary files, ${repaired.orphans.length} unreferenced volume files`);
  }
  if (repaired.missing.length) notices.push(`WARNING: volumes without data: ${repaired.missing.join(', ')}`);
  const cloud = settings.cloud
    ? await startCloud({ settings: settings.cloud, dataDir: settings.dataDir, database, driver, accounts, marketplace, service, mailer, ownUrl }).catch(async (e: unknown) => {
      await marketplace.close();
      await database.close();
      throw e;
    })
    : undefined;
  if (cloud) notices.push(...cloud.notices);
  const https = settings.tls ? { cert: readFileSync(settings.tls.cert), key: readFileSync(settings.tls.key) } : undefined;
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  const app = await buildApp({ marketplace, accounts, volumes, ...(cloud ? { instances: cloud.service } : {}) }, {
    maxMetadataBytes: settings.maxMetadataBytes,
    bodyMemoryBytes: limits.bodyMemoryBytes,
    anonymousUploadsPerHour: limits.anonymousUploadsPerHour,
    loginLimits: limits.login,
    connections: limits.connections,
    // Known only once listening (port 0 picks one). Without public_url, the address we listen
    // on, unless that is a wildcard: then the address each connection arrived at (baseUrl).
    publicUrl: () => limits.publicUrl ?? (WILDCARDS.has(settings.host) ? '' : url),
    logger: settings.logger,
    ...(https ? { https } : {}),
  });
  try {
    await app.listen({ host: settings.host, port: settings.port });
  } catch (e) {
    await cloud?.close();
    await marketplace.close();
    await database.close();
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') {
      throw new StratusError('CONFIG_INVALID', `port ${settings.port} on ${settings.host} is already in use`, { hint: 'Stop the other server, or pick another --port (0 picks a free one).' });
    }
    throw e;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : settings.port;
  url = `${settings.tls ? 'https' : 'http'}://${host}:${port}`;
  try {
    await cloud?.start();
  } catch (e) {
    await app.close();
    await cloud?.close();
    await marketplace.close();
    await database.close();
    throw e;
  }
  // After listening: the reminders name the server's URL, known only now (port 0).
  const rounds = await startMarketplaceRounds({ settings: settings.marketplaceMail, marketplace, mailer, dataDir: settings.dataDir, publicUrl: ownUrl, log })
    .catch(async (e: unknown) => {
      await app.close();
      await cloud?.close();
      await marketplace.close();
      await database.close();
      throw e;
    });
  notices.push(...rounds.notices);
  const mm = settings.marketplaceMail;
  if ((mm.endorserReminder || mm.adminEmail) && !limits.publicUrl && WILDCARDS.has(settings.host)) {
    notices.push(`WARNING: [server] public_url is not set and the server listens on every address: reminders and abuse reports will name ${url}; set public_url to the URL endorsers use`);
  }
  return {
    app,
    database,
    marketplace,
    service,
    notices,
    mailer,
    url,
    close: async () => {
      await app.close();
      await rounds.close();
      await cloud?.close();
      await marketplace.close();
      await database.close();
    },
  };
}
