import type { Insertable, Kysely, Selectable } from 'kysely';
import { StratusError } from '../domain/errors.js';
import type { Database, Tables, UsersTable } from './database.js';

export type UserRow = Selectable<UsersTable>;

/**
 * What an account can own, each with how to count what stands in the way of removing the
 * account and how to hand it all to another. Instances join this list when they get a table.
 */
interface Holding {
  /** Plural noun, for messages and the hand-over report, and the singular. */
  noun: string;
  one: string;
  /** How many the account holds that block its removal (things it can see and act on). */
  count(trx: Kysely<Tables>, owner: string): Promise<number>;
  /** Gives everything the account holds, visible or not, to `heir`. */
  handOver(trx: Kysely<Tables>, owner: string, heir: string): Promise<void>;
}

const HOLDINGS: Holding[] = [
  {
    noun: 'volumes',
    one: 'volume',
    count: async (trx, owner) => Number((await trx.selectFrom('volumes').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('owner', '=', owner).where('deleted', 'is', null).executeTakeFirst())?.n ?? 0),
    // Deleted origins kept for others' snapshots go too: no row may keep a removed account's name.
    handOver: async (trx, owner, heir) => { await trx.updateTable('volumes').set({ owner: heir }).where('owner', '=', owner).execute(); },
  },
  {
    noun: 'mounts',
    one: 'mount',
    count: async (trx, owner) => Number((await trx.selectFrom('mounts').select((eb) => eb.fn.countAll<number>().as('n'))
      .where('owner', '=', owner).executeTakeFirst())?.n ?? 0),
    handOver: async (trx, owner, heir) => { await trx.updateTable('mounts').set({ owner: heir }).where('owner', '=', owner).execute(); },
  },
];

/** What an account held when it was removed, per kind ("volumes", "mounts"). */
export type Holdings = Record<string, number>;

/** SQL for accounts. */
export class UserStore {
  constructor(private readonly database: Database) {}

  get(username: string): Promise<UserRow | undefined> {
    return this.database.db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
  }

  list(): Promise<UserRow[]> {
    return this.database.db.selectFrom('users').selectAll().orderBy('username').execute();
  }

  /** Inserts unless the name is taken; returns false when it is. */
  async insert(row: Insertable<UsersTable>): Promise<boolean> {
    const r = await this.database.db.insertInto('users').values(row).onConflict((oc) => oc.column('username').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async update(username: string, fields: Partial<Pick<UsersTable, 'password_hash' | 'quota_gib' | 'quota_volumes'>>): Promise<boolean> {
    const r = await this.database.db.updateTable('users').set(fields).where('username', '=', username).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /**
   * Removes an account in one transaction with its row locked: refused (USER_IN_USE) while it
   * holds volumes or mounts, unless `force`, which hands them to `heir`; hidden rows (deleted
   * origins) always go to `heir`. So nothing keeps the name, and a new account of the same
   * name starts with nothing. Returns what was handed over, or undefined when there is no
   * such account.
   */
  async remove(username: string, heir: string, force: boolean): Promise<Holdings | undefined> {
    return this.database.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('users').select('username').where('username', '=', username);
      if (this.database.dialect === 'postgres') q = q.forUpdate();
      if (!(await q.executeTakeFirst())) return undefined;
      const held: Holdings = {};
      const what: string[] = [];
      for (const h of HOLDINGS) {
        const n = await h.count(trx, username);
        held[h.noun] = n;
        if (n > 0) what.push(`${n} ${n === 1 ? h.one : h.noun}`);
      }
      if (what.length > 0 && !force) {
        throw new StratusError('USER_IN_USE', `user ${username} still owns ${what.join(' and ')}`, {
          hint: `Delete them first, or remove the account with --force (API: ?force=true) to hand them to ${heir}.`,
        });
      }
      for (const h of HOLDINGS) await h.handOver(trx, username, heir);
      await trx.deleteFrom('users').where('username', '=', username).execute();
      return held;
    });
  }
}
