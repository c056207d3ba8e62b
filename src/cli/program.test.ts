import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const program = fileURLToPath(new URL('./program.js', import.meta.url));

/** Runs a command built on runProgram in a child, signals it once it says "ready", and returns its exit and output. */
function signalled(action: string, signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    import { newProgram, onInterrupt, runProgram } from ${JSON.stringify(program)};
    const p = newProgram('t', 't').action(async () => { ${action} });
    process.exitCode = await runProgram(p, []);
  `;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout === 'ready\n') child.kill(signal);
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const WORK = `
  onInterrupt(async () => { await new Promise((r) => setTimeout(r, 200)); console.log('cleaned'); });
  console.log('ready');
  await new Promise((r) => setTimeout(r, 30000));
`;

test('Ctrl-C: the goodbye, then the registered clean-ups finish before the exit (130)', async () => {
  const r = await signalled(WORK, 'SIGINT');
  assert.deepEqual([r.code, r.stdout], [130, 'ready\ncleaned\n']);
  assert.equal(r.stderr, '\n\nExecution interrupted by the user... goodbye!\n');
});

test('SIGTERM: the clean-ups finish before the exit (143)', async () => {
  const r = await signalled(WORK, 'SIGTERM');
  assert.deepEqual([r.code, r.stdout], [143, 'ready\ncleaned\n']);
});

test('SIGTERM with no clean-up registered is left to the command (stratus serve closes itself)', async () => {
  const r = await signalled(`
    const off = onInterrupt(async () => undefined);
    off();
    // The timer stands for the server's sockets, which keep the process alive.
    const alive = setTimeout(() => undefined, 30000);
    await new Promise((resolve) => { process.once('SIGTERM', () => { clearTimeout(alive); console.log('closed'); resolve(); }); console.log('ready'); });
  `, 'SIGTERM');
  assert.deepEqual([r.code, r.stdout], [0, 'ready\nclosed\n']);
});
