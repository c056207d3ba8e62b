import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Accounts } from './accounts.js';
import { UserStore } from '../storage/users.js';
import { openSqlite } from '../storage/database.js';
import { isStratusError } from '../domain/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'stratus-accounts-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('credentials remembered by one server stop working once another server re-creates the account under the same name or changes its password', async () => {
  const database = await openSqlite(join(dir, 'shared.sqlite'));
  try {
    // Two servers over one database: each has its own memory of checked credentials.
    const [a, b] = [new Accounts(new UserStore(database)), new Accounts(new UserStore(database))];
    await a.ensureAdmin('admin-password-1');
    const admin = await b.authenticate('admin', 'admin-password-1');
    await b.add(admin, { username: 'bob', password: 'old-bob-password' });
    const oldBob = await a.authenticate('bob', 'old-bob-password');

    await b.remove(admin, 'bob');
    await b.add(admin, { username: 'bob', password: 'new-bob-password' });
    await assert.rejects(a.authenticate('bob', 'old-bob-password'), (e) => isStratusError(e, 'AUTH_REQUIRED'), 'the old password is not the new account');
    const newBob = await a.authenticate('bob', 'new-bob-password');
    assert.notEqual(newBob.id, oldBob.id, 'a new account of the same name has a new id');

    await b.passwd(admin, 'bob', 'changed-bob-password');
    await assert.rejects(a.authenticate('bob', 'new-bob-password'), (e) => isStratusError(e, 'AUTH_REQUIRED'), 'a changed password is seen at once');
    assert.equal((await a.authenticate('bob', 'changed-bob-password')).id, newBob.id);
  } finally {
    await database.close();
  }
});
