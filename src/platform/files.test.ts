import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { supportsDirectIo } from './files.js';

test('O_DIRECT is found on the disk\'s file system, not in a folder that cannot be written; the probe file never stays', (t) => {
  const disk = mkdtempSync(join(tmpdir(), 'stratus-direct-'));
  t.after(() => rmSync(disk, { recursive: true, force: true }));
  assert.equal(supportsDirectIo(disk), true);
  assert.equal(supportsDirectIo(join(disk, 'missing')), false);
  assert.equal(supportsDirectIo('/proc'), false);
  assert.deepEqual(readdirSync(disk), []);
});
