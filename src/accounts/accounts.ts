import { createHash, randomUUID } from 'node:crypto';
import { StratusError } from '../domain/errors.js';
import { formatUtc } from '../domain/dates.js';
import { hashPassword, randomPassword, verifyPassword } from '../platform/password.js';
import type { Holdings, UserStore, UserRow } from '../storage/users.js';
import type { Quota } from '../storage/volumes/store.js';
import type { UserInfo } from '../domain/wire.js';

/** Who is calling: established by the API from HTTP Basic credentials. */
export interface Principal {
  /** The account's stable id: a later account of the same name has another. */
  id: string;
  username: string;
  admin: boolean;
}

export const ADMIN = 'admin';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** A successful check is remembered this long, so scrypt runs once per client, not per request. */
const CACHE_MS = 60_000;
/** Hashed once, so unknown names cost as much as wrong passwords. */
const DUMMY_HASH = hashPassword(randomPassword());

/** Accounts: the admin, users, passwords (scrypt) and volume quotas. */
export class Accounts {
  /**
   * Credentials checked lately, with the account (id and hash) they were checked against: a
   * hit counts only while that is still the account's row, so another server sharing the
   * database, where a password change or a removal and re-creation did not clear this map,
   * never lets old credentials through.
   */
  private readonly verified = new Map<string, { until: number; against: string }>();

  constructor(private readonly store: UserStore, private readonly clock: () => Date = () => new Date()) {}

  /**
   * Creates the admin account on first start. The password is `preset` when given (from
   * STRATUS_ADMIN_PASSWORD); otherwise a random one is returned for the caller to store.
   */
  async ensureAdmin(preset?: string): Promise<{ created: boolean; password?: string }> {
    if (await this.store.get(ADMIN)) return { created: false };
    const password = preset ?? randomPassword();
    await this.store.insert({ id: randomUUID(), username: ADMIN, password_hash: await hashPassword(password), is_admin: 1, quota_gib: null, quota_volumes: null, created: formatUtc(this.clock()) });
    return preset === undefined ? { created: true, password } : { created: true };
  }

  /** Checks credentials; every failure says the same thing so as not to help a guesser. */
  async authenticate(username: string, password: string): Promise<Principal> {
    const key = createHash('sha256').update(`${username}\0${password}`).digest('hex');
    const row = await this.store.get(username);
    const hit = this.verified.get(key);
    if (row && hit && hit.until > Date.now() && hit.against === `${row.id} ${row.password_hash}`) return principal(row);
    const ok = row ? await verifyPassword(password, row.password_hash) : (await verifyPassword(password, await DUMMY_HASH), false);
    if (!row || !ok) throw new StratusError('AUTH_REQUIRED', 'invalid credentials');
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(key, { until: Date.now() + CACHE_MS, against: `${row.id} ${row.password_hash}` });
    return principal(row);
  }

  async add(actor: Principal, u: { username: string; password: string; admin?: boolean; quotaGib?: number | null; quotaVolumes?: number | null }): Promise<UserInfo> {
    requireAdmin(actor, 'add accounts');
    if (!NAME_RE.test(u.username)) {
      throw new StratusError('USAGE', `invalid user name '${u.username}'`, { hint: 'Use letters, digits, dot, dash, underscore or @ (at most 64 characters).' });
    }
    requirePassword(u.password);
    const row = {
      id: randomUUID(), username: u.username, password_hash: await hashPassword(u.password), is_admin: u.admin ? 1 : 0,
      quota_gib: u.quotaGib ?? null, quota_volumes: u.quotaVolumes ?? null, created: formatUtc(this.clock()),
    };
    if (!(await this.store.insert(row))) throw new StratusError('USER_EXISTS', `user ${u.username} already exists`);
    return info(row);
  }

  async list(actor: Principal): Promise<UserInfo[]> {
    requireAdmin(actor, 'list accounts');
    return (await this.store.list()).map(info);
  }

  /** Admins change anyone's password; users their own. */
  async passwd(actor: Principal, username: string, password: string): Promise<void> {
    if (!actor.admin && actor.username !== username) throw new StratusError('FORBIDDEN', `only an admin may change ${username}'s password`);
    requirePassword(password);
    if (!(await this.store.update(username, { password_hash: await hashPassword(password) }))) throw new StratusError('USER_NOT_FOUND', `no user ${username}`);
    this.verified.clear();
  }

  /**
   * Removes an account. Refused while it owns volumes or mounts, unless `force`, which hands
   * them to the admin account; either way nothing is left under its name, so an account
   * created later with the same name starts with nothing. Returns what was handed over.
   */
  async remove(actor: Principal, username: string, options: { force?: boolean } = {}): Promise<{ heir: string; handedOver: Holdings }> {
    requireAdmin(actor, 'remove accounts');
    if (username === ADMIN) throw new StratusError('FORBIDDEN', 'the admin account cannot be removed');
    const handedOver = await this.store.remove(username, ADMIN, options.force === true);
    if (!handedOver) throw new StratusError('USER_NOT_FOUND', `no user ${username}`);
    this.verified.clear();
    return { heir: ADMIN, handedOver };
  }

  async setQuota(actor: Principal, username: string, quota: { gib?: number | null; volumes?: number | null }): Promise<UserInfo> {
    requireAdmin(actor, 'set quotas');
    const fields: { quota_gib?: number | null; quota_volumes?: number | null } = {};
    if (quota.gib !== undefined) fields.quota_gib = quota.gib;
    if (quota.volumes !== undefined) fields.quota_volumes = quota.volumes;
    if (!(await this.store.update(username, fields))) throw new StratusError('USER_NOT_FOUND', `no user ${username}`);
    return info(await this.store.get(username) as UserRow);
  }

  /** The account of that name, as a request made with its credentials would be (drafts are filed under its id). */
  async account(username: string): Promise<Principal> {
    const row = await this.store.get(username);
    if (!row) throw new StratusError('USER_NOT_FOUND', `user ${username} does not exist`);
    return principal(row);
  }

  /** The limits that apply to a user's volumes (none for the admin). */
  async quotaOf(username: string): Promise<Quota> {
    const row = await this.store.get(username);
    if (!row || row.is_admin) return { gib: null, volumes: null };
    return { gib: row.quota_gib, volumes: row.quota_volumes };
  }
}

function principal(row: UserRow): Principal {
  return { id: row.id, username: row.username, admin: row.is_admin === 1 };
}

function info(row: UserRow): UserInfo {
  return { username: row.username, admin: row.is_admin === 1, quotaGib: row.quota_gib, quotaVolumes: row.quota_volumes, created: row.created };
}

function requireAdmin(actor: Principal, what: string): void {
  if (!actor.admin) throw new StratusError('FORBIDDEN', `only an admin may ${what}`);
}

function requirePassword(p: string): void {
  if (p.length < 8) throw new StratusError('USAGE', 'passwords must have at least 8 characters');
}
