import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from './run.js';
import { isStratusError } from '../domain/errors.js';

test('a tool that exits without reading its input: no uncaught EPIPE, the exit code decides', async () => {
  // Many rounds with more input than a pipe holds: the tool is gone before the write ends.
  const input = 'x'.repeat(1 << 20);
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(await run('true', [], { input }), { stdout: '', stderr: '' });
    await assert.rejects(run('false', [], { input }), (e) => isStratusError(e, 'TOOL_FAILED') && /exit 1/.test(e.message));
  }
});

test('a missing tool is TOOL_FAILED "not installed"', async () => {
  await assert.rejects(run('stratus-no-such-tool', []), (e) => isStratusError(e, 'TOOL_FAILED') && /not installed/.test(e.message));
});
