import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INSTANCE_STATES, canTransition, holdsResources, isInstanceState, isListed } from './instance.js';

test('the normal life of an instance is a path of allowed steps, and Done is final', () => {
  const path = ['Pending', 'Prolog', 'Boot', 'Running', 'Shutdown', 'Epilog', 'Done'] as const;
  for (let i = 1; i < path.length; i++) assert.ok(canTransition(path[i - 1] as never, path[i] as never), `${path[i - 1]} → ${path[i]}`);
  for (const s of INSTANCE_STATES) assert.equal(canTransition('Done', s), false, `Done → ${s}`);
});

test('kill ends every live state; a guest that halted itself is Unknown and holds its resources until then', () => {
  for (const s of ['Pending', 'Prolog', 'Boot', 'Running', 'Shutdown', 'Unknown', 'Failed'] as const) assert.ok(canTransition(s, 'Done'), `${s} → Done`);
  assert.ok(canTransition('Running', 'Unknown'));
  assert.ok(holdsResources('Unknown'));
  assert.ok(!holdsResources('Failed') && !holdsResources('Done'));
  assert.ok(!canTransition('Running', 'Boot'), 'no going back');
  assert.ok(!canTransition('Unknown', 'Running'));
});

test('labels are StratusLab\'s title-cased ones; Done instances drop out of listings', () => {
  assert.ok(isInstanceState('Running') && !isInstanceState('running') && !isInstanceState('Save_Stop'));
  assert.ok(isListed('Failed') && isListed('Unknown') && !isListed('Done'));
});
