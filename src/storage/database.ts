import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import type { Generated, Migration, MigrationProvider } from 'kysely';
import { ENTRY_FIELDS } from '../domain/entry-fields.js';
import type { EntryFields, FieldColumns } from '../domain/entry-fields.js';
import { addFieldColumns, migrations } from './migrations.js';

/**
 * One row per stored metadata entry; the signed XML is kept byte for byte in `xml`. Besides
 * the entry's key and provenance, it has a column per field of the entry schema that names
 * one (domain/entry-fields.ts).
 */
export interface EntriesTable extends FieldColumns {
  id: Generated<number>;
  identifier: string;
  email: string;
  /** The endorsement time, yyyy-MM-ddTHH:mm:ssZ: with identifier and email, the entry key. */
  created: string;
  /** The first location, and whether the entry is kept in a disk service (pdisk, web or none). */
  location: string | null;
  location_kind: string;
  subject: string | null;
  issuer: string | null;
  /**
   * 1 on the newest entry of each (identifier, email) pair: StratusLab's "latest" tag. Drafts
   * keep their own chain per owner, apart from the public one.
   */
  is_latest: number;
  /**
   * The account id a draft (an entry the service signed for a user) belongs to; null for every
   * public entry. A draft is seen by its owner and the admin only.
   */
  draft_owner: string | null;
  uploaded_at: string;
  /** Lower-cased text of the searchable fields, for free-text search. */
  search: string;
  xml: string;
}

/** An account. Passwords are kept only as scrypt hashes. */
export interface UsersTable {
  /**
   * Random and never reused: a request authenticated as one account cannot act for a later
   * account of the same name (volumes and mounts are inserted only while it still matches).
   */
  id: string;
  username: string;
  password_hash: string;
  is_admin: number;
  /** Total GiB the user's volumes may take; null: unlimited. */
  quota_gib: number | null;
  /** How many volumes the user may own; null: unlimited. */
  quota_volumes: number | null;
  created: string;
}

/** A persistent disk (reference §7.3). The bytes live behind the VolumeDriver port. */
export interface VolumesTable {
  uuid: string;
  owner: string;
  tag: string;
  /** Marketplace identifier of the content, `snapshot:<origin>` for snapshots, '' for data disks. */
  identifier: string;
  size_gib: number;
  /** Size of the content in bytes (the virtual size for qcow2 overlays). */
  bytes: number;
  type: string;
  visibility: string;
  /** 'raw', or 'qcow2' for copy-on-write snapshots. */
  format: string;
  /** The origin volume of a snapshot. */
  origin: string | null;
  quarantine: string;
  created: string;
  /**
   * Null for a live volume. An origin deleted by its owner while other accounts' snapshots
   * still read through it gets the time of deletion instead: it is gone for everyone (never
   * listed, counted or matched), and its row and bytes go with the last of those snapshots.
   */
  deleted: string | null;
}

/** Where a volume is attached: StratusLab's mount bookkeeping, ready for the compute service. */
export interface MountsTable {
  /** `<volume uuid>_<vm id>`, as StratusLab named them. */
  id: string;
  volume: string;
  vm_id: string;
  node: string;
  target: string;
  created: string;
  /** The account that mounted it: the volume's owner, or another account on a PUBLIC volume. */
  owner: string;
}

/**
 * A virtual machine (reference §2.2). The id is StratusLab's "vm ID": an integer, never reused.
 * Everything the host needs to find a running VM again is in its instance directory; this row
 * is what users see and what the state machine (domain/instance.ts) moves.
 */
export interface InstancesTable {
  id: Generated<number>;
  owner: string;
  /** The owner's account id when the instance was made: a later account of the same name gets nothing. */
  owner_id: string;
  name: string;
  state: string;
  /** Why it failed, or other words about the last change of state. */
  message: string | null;
  /** What the user asked to run: a Marketplace ID, a pdisk UUID or a URL. */
  image: string;
  /** The copy-on-write volume the instance boots from, once Prolog made it. */
  disk: string | null;
  cpu: number;
  ram_mib: number;
  swap_mib: number;
  /** Its "Public ip": the lease on the bridge, or its loopback address in user mode. */
  address: string | null;
  dir: string | null;
  created: string;
  updated: string;
  /** JSON: what the instance was given (see cloud/instance-spec.ts). */
  spec: string | null;
}

/**
 * A cached layer of an instance's root disk (the step cache of stratus-create-image): a qcow2
 * delta over an origin volume, in `<layers>/<owner_id>/<id>.qcow2`. Each account's own, by key.
 */
export interface LayersTable {
  /** Random; names the file, so a replaced layer's file never has the new one's name. */
  id: string;
  /** The account's id (an account of the same name made later has none of these). */
  owner_id: string;
  /** The account's name when it was saved, for the operator's eyes only. */
  owner: string;
  /** 64 lowercase hex digits, chosen by the client; unique per owner. */
  key: string;
  /** The origin volume the delta is over: the layer runs only with that volume as its base. */
  origin: string;
  /** The layer file's size. */
  bytes: number;
  created: string;
  /** When it was saved or last run: the least recently used go first when the cache is full. */
  used: string;
}

/**
 * An upload held until its endorser confirms it by e-mail (`[marketplace] validate_email`,
 * reference §6.3). The link's token is never stored, only its SHA-256, so a copy of the
 * database opens no link.
 */
export interface PendingUploadsTable {
  /** Hex SHA-256 of the token in the e-mailed links. */
  token_hash: string;
  identifier: string;
  /** The endorser: the signing certificate's e-mail, where the links went. */
  email: string;
  /** The endorsement time; with identifier and email, the key the entry will have. */
  created: string;
  subject: string | null;
  title: string | null;
  /** 1 when the entry deprecates its image (the mail says so). */
  deprecating: number;
  /** The account that uploaded it, if any: its drafts of the identifier end on confirmation. */
  uploader_id: string | null;
  /** The client address the upload came from, for an abuse report. */
  client: string | null;
  /** When it arrived and when its links stop working (ISO 8601 UTC with milliseconds). */
  received: string;
  expires: string;
  /** The verified document, as an upload stores it. */
  xml: string;
}

export interface Tables {
  entries: EntriesTable;
  users: UsersTable;
  volumes: VolumesTable;
  mounts: MountsTable;
  instances: InstancesTable;
  layers: LayersTable;
  pending_uploads: PendingUploadsTable;
}

export type DialectName = 'sqlite' | 'postgres';

/** The database port: a Kysely handle plus what differs between SQLite and PostgreSQL. */
export interface Database {
  readonly db: Kysely<Tables>;
  readonly dialect: DialectName;
  /** The entry schema whose columns the database has (the real one unless a test extends it). */
  readonly entryFields: EntryFields;
  close(): Promise<void>;
}

export interface OpenOptions {
  entryFields?: EntryFields;
}

/**
 * Opens (creating if needed) the SQLite database at `file` and brings its schema up to date.
 * WAL lets readers run while an upload commits.
 */
export async function openSqlite(file: string, options: OpenOptions = {}): Promise<Database> {
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const sqlite = new BetterSqlite3(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: sqlite }) });
  const database: Database = { db, dialect: 'sqlite', entryFields: options.entryFields ?? ENTRY_FIELDS, close: () => db.destroy() };
  await migrate(database);
  return database;
}

/** Opens a PostgreSQL database (the scaled-out option) and brings its schema up to date. */
export async function openPostgres(connectionString: string, options: OpenOptions = {}): Promise<Database> {
  const pg = await import('pg');
  // COUNT(*) and BIGINT come back as strings by default; the sizes here fit in a double.
  pg.default.types.setTypeParser(20, Number);
  const pool = new pg.default.Pool({ connectionString, max: 10 });
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  const database: Database = { db, dialect: 'postgres', entryFields: options.entryFields ?? ENTRY_FIELDS, close: () => db.destroy() };
  await migrate(database);
  return database;
}

/** Picks the adapter from a URL: postgres://… or postgresql://… is PostgreSQL, anything else a SQLite file. */
export function openDatabase(location: string, options: OpenOptions = {}): Promise<Database> {
  return /^postgres(ql)?:\/\//.test(location) ? openPostgres(location, options) : openSqlite(location, options);
}

async function migrate(database: Database): Promise<void> {
  const provider: MigrationProvider = {
    getMigrations: async () => {
      const out: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(migrations)) out[name] = { up: (db) => m.up(db, database.dialect) };
      return out;
    },
  };
  const { error, results } = await new Migrator({ db: database.db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${(error as Error).message}`, { cause: error });
  }
  await addFieldColumns(database);
}
