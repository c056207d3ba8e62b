import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceInfo } from '../../domain/instance-wire.js';
import { allAttributes, table } from './describe-instance.js';

const vm: InstanceInfo = {
  id: 7, name: 'one-7', owner: 'alice', state: 'Running', message: null, image: 'img', disk: null, type: 'm1.small', cpu: 1, ramMiB: 128, swapMiB: 0,
  address: '127.100.0.2', memoryKiB: 1000, cpuPercent: 3, vnc: { address: '127.0.0.1', port: 5901, password: 'Secret12' }, created: 'c', updated: 'u',
};

test('-vvv flattens the VNC endpoint into vnc_address, vnc_port and (for the owner) vnc_password', () => {
  const lines = allAttributes(vm, { HOSTNAME: 'x' }).split('\n');
  for (const line of ['  vnc_address = 127.0.0.1', '  vnc_port = 5901', '  vnc_password = Secret12', '  template_context_hostname = x']) {
    assert.ok(lines.includes(line), `${line} in\n${lines.join('\n')}`);
  }
  assert.ok(!lines.some((l) => l.includes('[object Object]')));
});

test('-vvv without a VNC server (QEMU not running) prints vnc empty; without the password (not the owner), no vnc_password line', () => {
  assert.ok(allAttributes({ ...vm, vnc: null }, {}).split('\n').includes('  vnc = '));
  const admin = allAttributes({ ...vm, vnc: { address: '127.0.0.1', port: 5901 } }, {}).split('\n');
  assert.ok(admin.includes('  vnc_port = 5901') && !admin.some((l) => l.startsWith('  vnc_password')));
});

test('regression: -vvv printed ram_mi_b and memory_ki_b; a unit stays one word (ram_mib, swap_mib, memory_kib, cpu_percent)', () => {
  const lines = allAttributes(vm, {}).split('\n');
  for (const line of ['  ram_mib = 128', '  swap_mib = 0', '  memory_kib = 1000', '  cpu_percent = 3']) assert.ok(lines.includes(line), `${line} in\n${lines.join('\n')}`);
  assert.ok(!lines.some((l) => /_mi_b|_ki_b/.test(l)));
});

test('-v shows a Done instance\'s message (the MARKETPLACE_AND_IMAGEID line of a save) under its row; without -v, only the row', () => {
  const done = { ...vm, state: 'Done', message: 'MARKETPLACE_AND_IMAGEID http://mp ABC' } as InstanceInfo;
  assert.match(table([done], true), /\n\s+MARKETPLACE_AND_IMAGEID http:\/\/mp ABC$/);
  assert.doesNotMatch(table([done], false), /MARKETPLACE_AND_IMAGEID/);
});
