import type { Insertable, Selectable } from 'kysely';
import type { Database, UsersTable } from './database.js';

export type UserRow = Selectable<UsersTable>;

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

  async remove(username: string): Promise<boolean> {
    const r = await this.database.db.deleteFrom('users').where('username', '=', username).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
}
