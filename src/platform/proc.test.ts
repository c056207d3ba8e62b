import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { processUsage } from './proc.js';

test('processUsage: a busy child shows its resident memory and CPU use; a gone one shows nothing', async () => {
  const child = spawn(process.execPath, ['-e', 'const a = Buffer.alloc(64 * 1024 * 1024, 1); const end = Date.now() + 1500; while (Date.now() < end); setTimeout(() => a.length, 60000)']);
  await new Promise((r) => setTimeout(r, 1200));
  const u = processUsage(child.pid as number);
  assert.ok(u, 'the child is running');
  assert.ok(u.memoryKiB > 64 * 1024, `resident memory ${u.memoryKiB} KiB holds the 64 MiB buffer`);
  // A spinner's share of a core: near 100 on a quiet machine, 25 was seen at load 9.6 on two
  // cores; an idle process shows 0.
  assert.ok(u.cpuPercent >= 5, `cpu ${u.cpuPercent}% for a spinning process`);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.equal(processUsage(child.pid as number), undefined);
});
