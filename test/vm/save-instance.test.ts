/**
 * Issue 10, Done when: the manual process on ttylinux. `stratus-run-instance --save`, a change
 * over SSH, `stratus-shutdown-instance`: a volume whose identifier is the new ID, the mail, a
 * draft only its owner sees, the new ID runs at once and has the change; re-signed by its
 * owner, the draft becomes a public entry whose checksums are the volume's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ok } from '../helpers/cli.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlots } from '../helpers/vm.js';
import { ADMIN, ALICE, BOB, vmCloud } from '../helpers/vm-cloud.js';
import { checkSavedImage, publishDraft } from '../helpers/saved-image.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';

const { dir, dataDir, env, server, key, as } = await vmCloud();
const admin = ADMIN;
const alice = as(ALICE);

test('the manual process on ttylinux: --save, a file written over SSH, shutdown; the new ID is mailed, drafted, runs at once, and becomes public once re-signed', async (t) => {
  const image = await publishRecipe(server.url, dataDir, 'ttylinux', { dir, env });
  await addAccount(server.url, admin, ALICE.username, ALICE.password);
  await addAccount(server.url, admin, BOB.username, BOB.password);
  const refused = await alice(['run-instance', '-k', `${key.path}.pub`, '--save', '--author', 'Jane Tester', image.identifier]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /With the --save option, please provide the author's e-mail address \(--author-email\)/);

  const release = await acquireGuestSlots(1);
  t.after(release);
  const title = 'ttylinux with cloud.txt';
  const run = ok(await alice(['run-instance', '-q', '-k', `${key.path}.pub`, '--ram', '256', '--save', '--author', 'Jane Tester', '--author-email', 'jane@example.org',
    '--title', title, '--comment', 'writes /root/cloud.txt', '--image-version', '1.1', image.identifier]));
  const id = Number(run.stdout.split(',')[0]);
  t.after(async () => { await alice(['kill-instance', String(id)]); });
  const vm = JSON.parse(ok(await alice(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo | InstanceInfo[];
  const info = Array.isArray(vm) ? vm[0] as InstanceInfo : vm;
  assert.match(info.name, /^creator: \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

  ok(await alice(['connect-instance', '-k', key.path, String(id), '--', 'echo Cloudy Weather Expected > /root/cloud.txt && sync']));
  ok(await alice(['shutdown-instance', String(id)]));

  const done = await (await fetch(`${server.url}/instances/${id}`, { headers: { authorization: `Basic ${Buffer.from('alice:alice-pass-1').toString('base64')}` } })).json() as InstanceInfo;
  assert.equal(done.state, 'Done', `message: ${String(done.message)}\n${server.log()}`);
  const m = /^MARKETPLACE_AND_IMAGEID (\S+) ([A-Za-z0-9_-]{27})$/.exec(done.message ?? '');
  assert.ok(m, `message: ${String(done.message)}`);
  assert.equal(m[1], server.url, 'the draft went to this server\'s Marketplace');
  const identifier = m[2] as string;
  assert.match(server.log(), new RegExp(`VM ${id}: MARKETPLACE_AND_IMAGEID \\S+ ${identifier}`));
  const described = ok(await alice(['describe-instance', '-v', String(id)])).stdout;
  assert.match(described, new RegExp(`MARKETPLACE_AND_IMAGEID \\S+ ${identifier}`));

  const saved = await checkSavedImage({ url: server.url, dataDir, identifier, owner: ALICE, other: BOB, authorEmail: 'jane@example.org', title, cli: alice,
    // Saved as the user left it: the audit's verdict tells whoever endorses it what it still holds.
    verdict: /^writes \/root\/cloud\.txt\nImage check \(stratus-check-image\): \d+ error\(s\), \d+ warning\(s\): host-keys \/etc\/dropbear\/dropbear_ed25519_host_key .*; authorized-keys \/root\/\.ssh\/authorized_keys /,
  });

  // Regression: the saved disk took the new VM for the VM it was saved in (a context CD gives
  // every VM the same instance-id), so the new run's start script never ran.
  const again = ok(await alice(['run-instance', '-q', '-k', `${key.path}.pub`, '--ram', '256', '--context', 'START_SCRIPT=echo a new instance > /root/ran', identifier]));
  const second = Number(again.stdout.split(',')[0]);
  t.after(async () => { await alice(['kill-instance', String(second)]); });
  const cat = ok(await alice(['connect-instance', '-k', key.path, String(second), '--',
    'cat /root/cloud.txt; i=0; while [ ! -s /root/ran ] && [ $i -lt 120 ]; do sleep 1; i=$((i+1)); done; cat /root/ran']));
  assert.equal(cat.stdout.trim(), 'Cloudy Weather Expected\na new instance');
  ok(await alice(['kill-instance', String(second)]));

  await publishDraft({ url: server.url, dataDir, identifier, draftXml: saved.draftXml, volume: saved.volume, home: dir, cli: alice });
});
