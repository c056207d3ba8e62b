import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

const ADMIN_PW = 'admin-secret-1';
const ALICE_PW = 'alice-secret-1';
const BOB_PW = 'bob-secret-12';
const UUID_RE = /^DISK ([0-9a-f-]{36})\n$/;

test('volume and account commands against a real server', async (t) => {
  const work = tempDir();
  const server = await startServerProcess(join(work, 'data'), [], { STRATUS_ADMIN_PASSWORD: ADMIN_PW });
  const cli = (args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> =>
    runCli(args, { home: work, cwd: work, env: { STRATUSLAB_PDISK_ENDPOINT: server.url, ...env }, ...(input !== undefined ? { input } : {}) });
  const as = (user: string, password: string) => (args: string[], input?: string) =>
    cli(args, { STRATUSLAB_USERNAME: user, STRATUSLAB_PASSWORD: password }, input);
  const admin = as('admin', ADMIN_PW);
  const alice = as('alice', ALICE_PW);
  let bob = as('bob', BOB_PW);
  const ok = (r: CliResult): CliResult => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  const create = async (run: typeof alice, args: string[]): Promise<string> => {
    const r = ok(await run(['create-volume', ...args]));
    const m = UUID_RE.exec(r.stdout);
    assert.ok(m, r.stdout);
    return m[1] as string;
  };
  let web = '';
  let db = '';

  await t.test('every new command has --help', async () => {
    for (const args of [['describe-volumes'], ['create-volume'], ['update-volume'], ['delete-volume'], ['user'],
      ['user', 'add'], ['user', 'list'], ['user', 'passwd'], ['user', 'remove'], ['user', 'quota']]) {
      const r = ok(await cli([...args, '--help']));
      assert.match(r.stdout, /^Usage: stratus[ -]/, args.join(' '));
    }
    assert.match((await cli(['create-volume', '--help'])).stdout, /-s, --size <GiB>[\s\S]*--public[\s\S]*--private/);
    assert.match((await cli(['update-volume', '--help'])).stdout, /--machine-image-origin[\s\S]*--data-image-raw-read-write/);
    assert.match((await cli(['user', 'add', '--help'])).stdout, /--password-stdin[\s\S]*-u, --username/, 'connection options shown too');
  });

  await t.test('the admin adds accounts with the password on stdin, never as an option', async () => {
    assert.equal(ok(await admin(['user', 'add', 'alice', '--password-stdin'], `${ALICE_PW}\n`)).stdout, 'ADDED alice\n');
    ok(await admin(['user', 'add', 'bob', '--password-stdin'], `${BOB_PW}\nignored second line\n`));
    const noPw = await admin(['user', 'add', 'carol']);
    assert.equal(noPw.code, 1);
    assert.match(noPw.stderr, /\[ERROR\] no password for carol\n {2}hint: .*--password-stdin/);
    const empty = await admin(['user', 'add', 'carol', '--password-stdin'], '');
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /\[ERROR\] no password on stdin/);
    const dup = await admin(['user', 'add', 'alice', '--password-stdin'], 'whatever-123\n');
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /\[ERROR\] user alice already exists/);
    const notAdmin = await alice(['user', 'add', 'mallory', '--password-stdin'], 'mallory-pass\n');
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.stderr, /\[ERROR\] only an admin may add accounts/);
  });

  await t.test('a wrong password fails with an authentication error and nothing more', async () => {
    const wrong = await as('alice', 'not-her-password')(['describe-volumes']);
    const unknown = await as('nobody', 'not-a-password')(['describe-volumes']);
    assert.notEqual(wrong.code, 0);
    assert.equal(wrong.stdout, '');
    assert.match(wrong.stderr, /^ {2}\[ERROR\] invalid credentials\n/);
    assert.equal(unknown.stderr, wrong.stderr, 'an unknown user and a wrong password look the same');
    const viaOptions = await cli(['describe-volumes', '-u', 'alice', '-p', ALICE_PW]);
    assert.equal(ok(viaOptions).stdout, 'No disk to show\n');
  });

  await t.test('create-volume prints DISK <uuid>; update-volume prints nothing', async () => {
    web = await create(alice, ['-s', '2', '-t', 'web']);
    db = await create(alice, ['--size', '1']);
    assert.equal(ok(await alice(['update-volume', db, '-t', 'db'])).stdout, '');
  });

  await t.test('describe-volumes prints the StratusLab layout', async () => {
    const one = ok(await alice(['describe-volumes', web]));
    assert.equal(one.stdout, `:: DISK ${web}\n\tcount: 0\n\ttag: web\n\towner: alice\n\tidentifier: \n\tsize: 2\n`);
    const all = ok(await alice(['describe-volumes']));
    assert.equal(all.stdout, `:: DISK ${db}\n\tcount: 0\n\ttag: db\n\towner: alice\n\tidentifier: \n\tsize: 1\n`
      + `:: DISK ${web}\n\tcount: 0\n\ttag: web\n\towner: alice\n\tidentifier: \n\tsize: 2\n`, 'newest first');
    assert.equal(ok(await alice(['describe-volumes', web.toUpperCase()])).stdout, one.stdout, 'UUIDs in any case');
    assert.equal(ok(await alice(['describe-volumes', web, db])).stdout, all.stdout, 'several UUIDs show each disk');
  });

  await t.test('describe-volumes -f filters with regexes; every value of a key must match', async () => {
    const uuids = async (args: string[]): Promise<string[]> =>
      [...ok(await alice(['describe-volumes', ...args])).stdout.matchAll(/^:: DISK (\S+)$/gm)].map((m) => m[1] as string);
    assert.deepEqual(await uuids(['-f', 'tag:^w']), [web]);
    assert.deepEqual(await uuids(['-f', 'tag:b', '-f', 'tag:e']), [web]);
    assert.deepEqual(await uuids(['-f', 'tag:b', '--filter', 'size:^1$']), [db]);
    assert.deepEqual(await uuids(['-f', 'owner:alice', '-f', 'visibility:PRIVATE', '-f', 'type:READ_WRITE']), [db, web]);
    assert.deepEqual(await uuids(['-f', `uuid:${db.slice(0, 8)}`]), [db]);
    assert.deepEqual(await uuids(['-f', 'tag:db', web]), [], 'UUID arguments and filters combine');
    assert.equal(ok(await alice(['describe-volumes', '-f', 'owner:^bob$'])).stdout, 'No disk to show\n');
    assert.equal(ok(await alice(['describe-volumes', '-f', 'identifier:.*'])).stdout, 'No disk to show\n', 'an empty field never matches');
    const bad = await alice(['describe-volumes', '-f', 'colour:red']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /\[ERROR\] unknown filter field 'colour'/);
    assert.match((await alice(['describe-volumes', '-f', 'tag'])).stderr, /\[ERROR\] invalid filter 'tag'/);
    assert.match((await alice(['describe-volumes', '-f', 'tag:('])).stderr, /\[ERROR\] invalid regular expression/);
    assert.match((await alice(['describe-volumes', 'not-a-uuid'])).stderr, /\[ERROR\] Invalid UUID not-a-uuid/);
  });

  await t.test('describe-volumes --json prints the full objects', async () => {
    const list = JSON.parse(ok(await alice(['describe-volumes', '--json', '-f', 'tag:web'])).stdout) as Record<string, unknown>[];
    assert.equal(list.length, 1);
    assert.equal(list[0]?.uuid, web);
    assert.equal(list[0]?.visibility, 'PRIVATE');
    assert.equal(list[0]?.type, 'DATA_IMAGE_RAW_READ_WRITE');
    assert.deepEqual(JSON.parse(ok(await alice(['describe-volumes', '--json', '-f', 'tag:nothing'])).stdout), []);
  });

  await t.test("another user neither sees nor changes a private volume", async () => {
    assert.equal(ok(await bob(['describe-volumes'])).stdout, 'No disk to show\n');
    assert.equal(ok(await bob(['describe-volumes', web])).stdout, 'No disk to show\n');
    const upd = await bob(['update-volume', web, '-t', 'mine']);
    assert.equal(upd.code, 1);
    assert.match(upd.stderr, new RegExp(`\\[ERROR\\] no volume ${web}`));
    const del = await bob(['delete-volume', web]);
    assert.equal(del.code, 1);
    assert.equal(del.stdout, '');
    assert.match(del.stderr, new RegExp(`\\[ERROR\\] no volume ${web}`));
  });

  await t.test('a public volume is visible to others, but only its owner or an admin may change it', async () => {
    assert.equal(ok(await alice(['update-volume', web, '--public'])).stdout, '');
    assert.match(ok(await bob(['describe-volumes', web])).stdout, new RegExp(`^:: DISK ${web}\n\tcount: 0\n\ttag: web\n\towner: alice\n`));
    const del = await bob(['delete-volume', web]);
    assert.equal(del.code, 1);
    assert.match(del.stderr, /\[ERROR\] .*only its owner or an admin may change it/);
    assert.equal((await bob(['update-volume', web, '--private'])).code, 1);
    assert.match(ok(await alice(['describe-volumes', web])).stdout, /tag: web/, 'still there');
  });

  await t.test('update-volume sets visibility and type; flags of one kind exclude each other', async () => {
    ok(await alice(['update-volume', db, '--machine-image-origin', '--public']));
    let info = JSON.parse(ok(await alice(['describe-volumes', '--json', db])).stdout) as Record<string, unknown>[];
    assert.equal(info[0]?.type, 'MACHINE_IMAGE_ORIGIN');
    assert.equal(info[0]?.visibility, 'PUBLIC');
    ok(await alice(['update-volume', db, '--data-image-raw-read-write', '--private']));
    info = JSON.parse(ok(await alice(['describe-volumes', '--json', db])).stdout) as Record<string, unknown>[];
    assert.equal(info[0]?.type, 'DATA_IMAGE_RAW_READ_WRITE');
    assert.equal(info[0]?.visibility, 'PRIVATE');
    assert.notEqual((await alice(['update-volume', db, '--public', '--private'])).code, 0);
    assert.notEqual((await alice(['update-volume', db, '--data-image-live', '--data-image-origin'])).code, 0);
    assert.match((await alice(['update-volume', db])).stderr, /\[ERROR\] nothing to change/);
    assert.match((await alice(['update-volume', 'xyz', '-t', 'a'])).stderr, /\[ERROR\] Invalid UUID xyz/);
  });

  await t.test('the admin sees and may change everything', async () => {
    const all = ok(await admin(['describe-volumes', '-f', 'owner:alice'])).stdout;
    assert.ok(all.includes(`:: DISK ${web}`) && all.includes(`:: DISK ${db}`), all);
    ok(await admin(['update-volume', db, '-t', 'db2']));
    assert.match(ok(await alice(['describe-volumes', db])).stdout, /\ttag: db2\n/);
  });

  await t.test('create-volume checks size and tag the StratusLab way', async () => {
    for (const size of ['0', '1025', 'abc', '1.5']) {
      const r = await alice(['create-volume', '-s', size]);
      assert.equal(r.code, 1, size);
      assert.match(r.stderr, /\[ERROR\] Size must be an integer between 1 and 1024/, size);
    }
    const missing = await alice(['create-volume']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /--size/);
    const long = await alice(['create-volume', '-s', '1', '-t', 'x'.repeat(41)]);
    assert.equal(long.code, 1);
    assert.match(long.stderr, /\[ERROR\] Tag must be less than 40 characters/);
    const forty = await create(alice, ['-s', '1', '-t', 'y'.repeat(40), '--public']);
    const info = JSON.parse(ok(await alice(['describe-volumes', '--json', forty])).stdout) as Record<string, unknown>[];
    assert.equal(info[0]?.visibility, 'PUBLIC');
    ok(await alice(['delete-volume', forty]));
  });

  await t.test('quotas set by the admin stop the next create-volume', async () => {
    assert.equal(ok(await admin(['user', 'quota', 'bob', '--volumes', '1', '--gib', '5'])).stdout, 'QUOTA bob gib: 5 volumes: 1\n');
    await create(bob, ['-s', '2']);
    const second = await bob(['create-volume', '-s', '1']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /\[ERROR\] quota exceeded: bob has 1 volumes and may have 1/);
    ok(await admin(['user', 'quota', 'bob', '--volumes', 'none']));
    const big = await bob(['create-volume', '-s', '4']);
    assert.equal(big.code, 1);
    assert.match(big.stderr, /\[ERROR\] quota exceeded: .*limit of 5 GiB/);
    await create(bob, ['-s', '3']);
    assert.match((await admin(['user', 'quota', 'bob'])).stderr, /\[ERROR\] .*--gib and\/or --volumes/);
    assert.match((await admin(['user', 'quota', 'bob', '--gib', '-1'])).stderr, /a quota is a whole number/);
    assert.match((await bob(['user', 'quota', 'bob', '--gib', '100'])).stderr, /\[ERROR\] only an admin may set quotas/);
  });

  await t.test('user list prints a table, or JSON', async () => {
    const table = ok(await admin(['user', 'list'])).stdout.split('\n');
    assert.match(table[0] as string, /^name +admin +quota GiB +quota volumes +created$/);
    assert.match(table.find((l) => l.startsWith('bob ')) as string, /^bob +no +5 +none +\d{4}-\d\d-\d\d/);
    assert.match(table.find((l) => l.startsWith('admin ')) as string, /^admin +yes +none +none /);
    const users = JSON.parse(ok(await admin(['user', 'list', '--json'])).stdout) as { username: string; admin: boolean; quotaGib: number | null; quotaVolumes: number | null }[];
    assert.deepEqual(users.map((u) => u.username).sort(), ['admin', 'alice', 'bob']);
    assert.deepEqual(users.find((u) => u.username === 'bob'), { ...users.find((u) => u.username === 'bob'), admin: false, quotaGib: 5, quotaVolumes: null });
    assert.equal((await alice(['user', 'list'])).code, 1, 'admins only');
  });

  await t.test('user passwd changes the password used to log in', async () => {
    assert.equal(ok(await admin(['user', 'passwd', 'bob', '--password-stdin'], 'bob-new-pass-1\n')).stdout, 'CHANGED bob\n');
    assert.match((await bob(['describe-volumes'])).stderr, /\[ERROR\] invalid credentials/);
    bob = as('bob', 'bob-new-pass-1');
    ok(await bob(['describe-volumes']));
    ok(await bob(['user', 'passwd', 'bob', '--password-stdin'], 'bob-own-choice\n'));
    bob = as('bob', 'bob-own-choice');
    ok(await bob(['describe-volumes']));
    assert.match((await bob(['user', 'passwd', 'alice', '--password-stdin'], 'hijacked-pw\n')).stderr, /\[ERROR\] only an admin may change alice's password/);
  });

  await t.test('user remove deletes the account', async () => {
    // The admin's own password, when not given otherwise, may follow on the next line of stdin.
    ok(await cli(['user', 'add', 'carol', '--password-stdin', '-u', 'admin'], {}, `carol-pass-1\n${ADMIN_PW}\n`));
    ok(await as('carol', 'carol-pass-1')(['describe-volumes']));
    assert.equal(ok(await admin(['user', 'remove', 'carol'])).stdout, 'REMOVED carol\n');
    assert.match((await as('carol', 'carol-pass-1')(['describe-volumes'])).stderr, /\[ERROR\] invalid credentials/);
    assert.match((await admin(['user', 'remove', 'carol'])).stderr, /\[ERROR\] no user carol/);
  });

  await t.test('delete-volume checks every UUID first, then deletes each and reports failures', async () => {
    const invalid = await alice(['delete-volume', db, 'nope']);
    assert.equal(invalid.code, 1);
    assert.equal(invalid.stdout, '');
    assert.match(invalid.stderr, /\[ERROR\] Invalid UUID nope/);
    assert.match(ok(await alice(['describe-volumes', db])).stdout, /:: DISK/, 'nothing deleted');
    const ghost = '00000000-0000-4000-8000-000000000000';
    const mixed = await alice(['delete-volume', ghost, db]);
    assert.equal(mixed.code, 1);
    assert.equal(mixed.stdout, `DELETED ${db}\n`, 'the failure does not stop the others');
    assert.match(mixed.stderr, new RegExp(`^ {2}\\[ERROR\\] no volume ${ghost}\n`));
    assert.equal(ok(await alice(['delete-volume', web])).stdout, `DELETED ${web}\n`);
    assert.equal(ok(await alice(['describe-volumes'])).stdout, 'No disk to show\n');
  });
});
