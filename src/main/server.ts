import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { StratusError } from '../domain/errors.js';
import { parseIni, interpolate } from '../platform/ini.js';
import { availableParallelism } from 'node:os';
import { compileTrust } from '../marketplace/verifier.js';
import type { TrustSettings } from '../marketplace/verifier.js';
import { workerVerifier } from '../marketplace/worker-verifier.js';
import { openDatabase } from '../storage/database.js';
import type { Database } from '../storage/database.js';
import { EntryStore } from '../storage/entries.js';
import { Marketplace } from '../marketplace/marketplace.js';
import { buildApp } from '../api/build-app.js';

/** Everything `stratus serve` needs; each field has a default from the data dir. */
export interface ServerSettings {
  dataDir: string;
  host: string;
  port: number;
  /** SQLite file path or postgres:// URL. */
  database: string;
  maxMetadataBytes: number;
  trust?: TrustSettings;
  /** Worker threads that verify uploads (0: verify on the main thread). */
  verifyThreads: number;
  logger: boolean;
}

/**
 * Reads <data-dir>/stratus.cfg (INI) if present. Keys, all optional:
 *   [server] host, port, database
 *   [marketplace] max_metadata_bytes, trust_endorsers (file of RFC 2253 DNs, one per line),
 *                 trust_ca_bundle (PEM file of CA certificates)
 * Command-line options override the file.
 */
export function loadServerSettings(opts: { dataDir: string; host?: string; port?: number; database?: string; config?: string; logger?: boolean }): ServerSettings {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const cfgPath = opts.config ?? join(dataDir, 'stratus.cfg');
  const sections = existsSync(cfgPath) ? parseIni(readFileSync(cfgPath, 'utf8'), cfgPath) : new Map<string, Map<string, string>>();
  const get = (section: string, key: string): string | undefined => interpolate(sections, section, key);
  const port = opts.port ?? Number(get('server', 'port') ?? 9204);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new StratusError('CONFIG_INVALID', `port ${port} is not 0-65535`);
  const settings: ServerSettings = {
    dataDir,
    host: opts.host ?? get('server', 'host') ?? '127.0.0.1',
    port,
    database: opts.database ?? get('server', 'database') ?? join(dataDir, 'stratus.db'),
    maxMetadataBytes: Number(get('marketplace', 'max_metadata_bytes') ?? 1024 * 1024),
    verifyThreads: Number(get('marketplace', 'verify_threads') ?? Math.max(1, availableParallelism() - 1)),
    logger: opts.logger ?? false,
  };
  const trust = trustPolicy(get('marketplace', 'trust_endorsers'), get('marketplace', 'trust_ca_bundle'), cfgPath);
  if (trust) settings.trust = trust;
  return settings;
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
  url: string;
  close(): Promise<void>;
}

/** Wires the services onto the database and starts listening. */
export async function startServer(settings: ServerSettings): Promise<RunningServer> {
  const database = await openDatabase(settings.database);
  const trust = settings.trust;
  const verifier = settings.verifyThreads > 0
    ? workerVerifier(settings.verifyThreads, { maxBytes: settings.maxMetadataBytes, ...(trust ? { trust } : {}) })
    : undefined;
  const compiled = compileTrust(trust);
  const marketplace = new Marketplace(new EntryStore(database), {
    maxBytes: settings.maxMetadataBytes,
    ...(verifier ? { verifier } : {}),
    ...(compiled ? { trust: compiled } : {}),
  });
  const app = await buildApp({ marketplace }, { maxMetadataBytes: settings.maxMetadataBytes, logger: settings.logger });
  try {
    await app.listen({ host: settings.host, port: settings.port });
  } catch (e) {
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
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return {
    app,
    database,
    url: `http://${host}:${port}`,
    close: async () => {
      await app.close();
      await marketplace.close();
      await database.close();
    },
  };
}
