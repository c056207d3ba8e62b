/**
 * Issue 10, Done when, the step cache: a create-image whose second script fails, rerun with the
 * script fixed, starts from the first script's cached layer (the log says `(cached)` and the
 * timings show the first script did not run again); a rerun with nothing changed reuses every
 * layer and only boots, shuts down and saves. ttylinux: the guest's distribution does not
 * matter here. The image made by the fixed rerun is the whole outcome of the seed (volume,
 * mail, owner-only draft) and runs with both scripts' files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok } from '../helpers/cli.js';
import { addAccount, publishRecipe } from '../helpers/cloud.js';
import { acquireGuestSlots } from '../helpers/vm.js';
import { ADMIN, ALICE, BOB, vmCloud } from '../helpers/vm-cloud.js';
import { checkSavedImage } from '../helpers/saved-image.js';
import type { InstanceInfo } from '../../src/domain/instance-wire.js';

const { dir, dataDir, env, server, key, as } = await vmCloud();
const admin = ADMIN;
const alice = as(ALICE);
const title = 'ttylinux built in two steps';

// The first step is slow on purpose: a rerun that ran it again would show its 8 s.
writeFileSync(join(dir, 'one.sh'), '#!/bin/sh\nsleep 8\necho "step one" > /root/one.txt\n');
const two = (fixed: boolean): void => writeFileSync(join(dir, 'two.sh'), fixed ? '#!/bin/sh\necho "step two" > /root/two.txt\n' : '#!/bin/sh\necho "no space left" >&2\nexit 4\n');

function create(): ReturnType<typeof alice> {
  return alice(['create-image', '-v', '-k', `${key.path}.pub`, '--ram', '256', '-s', 'one.sh,two.sh', '--title', title, '--comment', 'two scripts',
    '--author', 'Jane Tester', '--author-email', 'jane@example.org', image]);
}

/** Seconds a step took, from the -v timing lines (`<label>: 8.4 s`). */
function took(stdout: string, label: string): number | undefined {
  const m = new RegExp(`${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ([\\d.]+) s`).exec(stdout);
  return m ? Number(m[1]) : undefined;
}

let image = '';

test('step cache: a failed second script, rerun fixed, starts from the first script\'s layer; a rerun with nothing changed only saves', async (t) => {
  image = (await publishRecipe(server.url, dataDir, 'ttylinux', { dir, env })).identifier;
  await addAccount(server.url, admin, ALICE.username, ALICE.password);
  await addAccount(server.url, admin, BOB.username, BOB.password);
  const release = await acquireGuestSlots(1);
  t.after(release);

  two(false);
  const failed = await create();
  assert.equal(failed.code, 1, `${failed.stdout}\n${failed.stderr}`);
  assert.match(failed.stderr, /An error occurred while executing script two\.sh/);
  assert.ok((took(failed.stdout, 'Executing user script one.sh') ?? 0) >= 8, `one.sh ran, for 8 s or more:\n${failed.stdout}`);
  assert.doesNotMatch(failed.stdout, /\(cached\)/, 'nothing was cached before the first run');

  two(true);
  const fixed = await create();
  assert.equal(fixed.code, 0, `${fixed.stdout}\n${fixed.stderr}`);
  assert.match(fixed.stdout, / :: Executing user script one\.sh \(cached\)/, 'the first script comes from its layer');
  assert.match(fixed.stdout, /Executing user script one\.sh: cached \(layer [0-9a-f]{12}\)/);
  assert.equal(took(fixed.stdout, 'Executing user script one.sh'), undefined, 'and takes no time: it did not run');
  assert.notEqual(took(fixed.stdout, 'Executing user script two.sh'), undefined, 'the fixed script ran');
  const id = Number((/ :: Machine 1 \(vm ID: (\d+)\)/.exec(fixed.stdout) as RegExpExecArray)[1]);
  const [vm] = JSON.parse(ok(await alice(['describe-instance', '--json', String(id)])).stdout) as InstanceInfo[];
  const m = /^MARKETPLACE_AND_IMAGEID \S+ ([A-Za-z0-9_-]{27})$/.exec(vm?.message ?? '');
  assert.ok(m, String(vm?.message));
  const identifier = m[1] as string;
  await checkSavedImage({ url: server.url, dataDir, identifier, owner: ALICE, other: BOB, authorEmail: 'jane@example.org', title, cli: alice,
    // create-image removed what the build left (the host key, the builder's key).
    verdict: /\nImage check \(stratus-check-image\): no problems found\.$/,
  });

  const again = await create();
  assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
  assert.match(again.stdout, / :: Executing user script one\.sh \(cached\)/);
  assert.match(again.stdout, / :: Executing user script two\.sh \(cached\)/);
  assert.match(again.stdout, / :: Shutting down machine/);

  const run = ok(await alice(['run-instance', '-q', '-k', `${key.path}.pub`, '--ram', '256', identifier]));
  const second = Number(run.stdout.split(',')[0]);
  t.after(async () => { await alice(['kill-instance', String(second)]); });
  const cat = ok(await alice(['connect-instance', '-k', key.path, String(second), '--', 'cat /root/one.txt /root/two.txt']));
  assert.equal(cat.stdout.trim(), 'step one\nstep two');
});
