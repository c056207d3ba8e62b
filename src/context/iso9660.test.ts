import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIso } from './iso9660.js';
import { tempDir } from '../../test/helpers/tmp.js';

const dir = tempDir();
const files = [
  { name: 'user-data', data: Buffer.from('#!/bin/sh\necho hello > /tmp/x\n') },
  { name: 'meta-data', data: Buffer.from('instance-id: i-0001\nlocal-hostname: vm-1\n') },
  { name: 'network-config', data: Buffer.alloc(5000, 'n') },
];

test('the seed ISO reads back with isoinfo: label cidata, Joliet names, exact contents', () => {
  const iso = join(dir, 'seed.iso');
  writeFileSync(iso, buildIso('cidata', files));
  const info = execFileSync('isoinfo', ['-d', '-i', iso]).toString();
  assert.match(info, /Volume id: cidata/);
  assert.match(info, /Joliet with UCS level 3 found/);
  const listing = execFileSync('isoinfo', ['-J', '-f', '-i', iso]).toString().trim().split('\n').sort();
  assert.deepEqual(listing, ['/meta-data', '/network-config', '/user-data']);
  for (const f of files) {
    assert.deepEqual(execFileSync('isoinfo', ['-J', '-x', `/${f.name}`, '-i', iso]), f.data, f.name);
  }
  // Without Joliet the level-1 names are what old readers see.
  const plain = execFileSync('isoinfo', ['-f', '-i', iso]).toString();
  assert.match(plain, /USER_DAT\.;1/);
});

test('xorriso, an independent reader, agrees on names and sizes', () => {
  const iso = join(dir, 'seed2.iso');
  writeFileSync(iso, buildIso('cidata', files));
  const out = execFileSync('xorriso', ['-indev', iso, '-find', '/', '-exec', 'lsdl', '--'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  assert.match(out, /\s30\s.*'\/user-data'/);
  assert.match(out, /\s5000\s.*'\/network-config'/);
});

test('blkid sees an iso9660 filesystem labelled cidata, as cloud-init ds-identify does', () => {
  const iso = join(dir, 'seed3.iso');
  writeFileSync(iso, buildIso('cidata', files));
  const out = execFileSync('blkid', ['-o', 'export', iso]).toString();
  assert.match(out, /LABEL=cidata/);
  assert.match(out, /TYPE=iso9660/);
});
