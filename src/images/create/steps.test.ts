import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StratusError, isStratusError } from '../../domain/errors.js';
import type { InstanceInfo } from '../../domain/instance-wire.js';
import type { InstanceState } from '../../domain/instance.js';
import { createImage } from './steps.js';
import type { CreateDeps, CreatePlan } from './steps.js';
import type { Remote, RemoteResult } from './remote.js';
import type { ScriptEntry } from './scripts.js';
import { chainKeys, packagesContent, scriptContent } from './step-cache.js';
import { FORGET_BUILD } from './installers.js';

/*
 * The steps with the cloud, the guest and the clock faked, for speed: the real ones are
 * proved by test/vm/create-image-ttylinux.test.ts. The faked guest runs scripts by name.
 */

const BASE = 'PxJQ0F1u9P0vKrrVafwoPn-jPVm';

function vm(state: InstanceState, message: string | null = null): InstanceInfo {
  return {
    id: 7, name: 'creator: x', owner: 'alice', state, message, image: BASE, disk: null, type: 'm1.small', cpu: 1, ramMiB: 256, swapMiB: 0,
    address: '192.0.2.7', memoryKiB: 0, cpuPercent: 0, vnc: null, created: '', updated: '',
  };
}

function script(name: string, body: string, args: string[] = []): ScriptEntry {
  return { text: [name, ...args].join(' '), path: name, args, remotePath: `/tmp/${name}`, bytes: Buffer.from(body) };
}

interface World {
  deps: CreateDeps;
  log: string[];
  commands: string[];
  calls: string[];
  layers: Set<string>;
  interrupts: Array<() => Promise<void>>;
}

function world(opts: { layers?: 'none' | 'missing'; present?: string[]; failing?: string; hasDnf?: boolean } = {}): World {
  const log: string[] = [];
  const commands: string[] = [];
  const calls: string[] = [];
  const layers = new Set(opts.present ?? []);
  const interrupts: Array<() => Promise<void>> = [];
  const remote: Remote = {
    run: async (command, o): Promise<RemoteResult> => {
      commands.push(o?.tty ? `tty: ${command}` : command);
      if (command.startsWith('command -v dnf')) return { code: opts.hasDnf ? 0 : 1, tail: [] };
      if (opts.failing && command.startsWith(`/tmp/${opts.failing}`)) {
        o?.output?.(Buffer.from('working\r\nit broke\r\n'));
        return { code: 3, tail: ['working', 'it broke'] };
      }
      return { code: 0, tail: [] };
    },
    copy: async (from, to) => { commands.push(`copy ${from} ${to}`); },
  };
  const missing = (): never => { throw new StratusError('ROUTE_NOT_FOUND', 'no such resource'); };
  const deps: CreateDeps = {
    start: async (layer) => { calls.push(`start ${layer ?? '-'}`); return vm('Running'); },
    instance: async () => vm('Running'),
    kill: async (id) => { calls.push(`kill ${id}`); return vm('Done'); },
    shutdown: async (id) => { calls.push(`shutdown ${id}`); return vm('Done', 'MARKETPLACE_AND_IMAGEID http://mp NEWID'); },
    ...(opts.layers === 'none' ? {} : {
      layers: {
        hasLayer: async (k) => (opts.layers === 'missing' ? missing() : layers.has(k)),
        saveLayer: async (id, k) => { if (opts.layers === 'missing') missing(); calls.push(`layer ${id} ${k.slice(0, 8)}`); layers.add(k); },
      },
    }),
    probe: async () => 'SSH-2.0-test',
    remote: () => remote,
    onInterrupt: (c) => { interrupts.push(c); return () => interrupts.splice(interrupts.indexOf(c), 1); },
    events: {
      action: (m) => log.push(`action ${m}`), step: (m) => log.push(`step ${m}`), info: (m) => log.push(`info ${m}`),
      detail: (m) => log.push(`detail ${m}`), warn: (m) => log.push(`warn ${m}`),
      dot: () => log.push('.'), dotsDone: () => log.push('dots done'), output: (d) => log.push(`output ${d.toString()}`),
    },
    clock: { now: () => 0, sleep: async () => undefined },
  };
  return { deps, log, commands, calls, layers, interrupts };
}

const PLAN: CreatePlan = {
  baseId: BASE, scripts: [script('a.sh', 'echo a'), script('b.sh', 'echo b', ['x y'])], authorEmail: 'builder@example.org',
  saves: true, shutdown: true, startTimeoutS: 600, pingTimeoutS: 300,
};

const steps = (log: string[]): string[] => log.filter((l) => l.startsWith('step ') || l.startsWith('action '));

test('the step lines of §3 in order, from Starting base image to Shutting down machine; each script copied, made executable and run with a terminal', async () => {
  const w = world();
  const ended = await createImage(PLAN, w.deps);
  assert.equal(ended.state, 'Done');
  assert.deepEqual(steps(w.log), [
    'step Starting base image', 'step Waiting for machine to boot', 'step Waiting for machine network to start', 'step Check if we can connect to the machine',
    'step Executing user prerecipe', 'step Executing user recipe', 'step Executing user scripts',
    'action Finished building image increment.', 'action Please check builder@example.org for new image ID and instruction.', 'step Shutting down machine',
  ]);
  assert.ok(w.log.includes('detail No prerecipe to execute'));
  assert.ok(w.log.includes('info Connection to 192.0.2.7 closed.'));
  // -v: each step's time, and the total (the clock here stands still).
  for (const line of ['Starting base image: 0.0 s', 'Executing user script a.sh: 0.0 s', 'Shutting down machine (the Epilog saves the image): 0.0 s', 'MARKETPLACE_AND_IMAGEID http://mp NEWID', 'Total: 0.0 s']) {
    assert.ok(w.log.includes(`detail ${line}`), line);
  }
  assert.deepEqual(w.commands.filter((c) => !c.startsWith('if command -v cloud-init')), [
    'true', 'copy a.sh /tmp/a.sh', 'chmod 0755 /tmp/a.sh', 'tty: /tmp/a.sh', 'sync',
    'copy b.sh /tmp/b.sh', 'chmod 0755 /tmp/b.sh', `tty: /tmp/b.sh 'x y'`, 'sync', FORGET_BUILD,
  ], 'the last command removes what the build left for every VM of the image (host keys, keys, machine-id)');
  const [k1, k2] = chainKeys(BASE, PLAN.scripts.map(scriptContent));
  assert.deepEqual(w.calls, ['start -', `layer 7 ${k1?.slice(0, 8)}`, `layer 7 ${k2?.slice(0, 8)}`, 'shutdown 7']);
  assert.equal(w.interrupts.length, 0, 'the interrupt clean-up is removed once the VM is handed to the shutdown');
});

test('a rerun after the second script failed boots from the first script\'s layer and runs only the second', async () => {
  const [k1] = chainKeys(BASE, PLAN.scripts.map(scriptContent));
  const w = world({ present: [k1 as string] });
  await createImage(PLAN, w.deps);
  assert.equal(w.calls[0], `start ${k1}`);
  assert.deepEqual(steps(w.log).slice(6, 8), ['step Executing user scripts', 'step Executing user script a.sh (cached)']);
  assert.ok(!w.commands.some((c) => c.includes('a.sh')), 'a.sh is not run again');
  assert.ok(w.log.includes(`detail Executing user script a.sh: cached (layer ${k1?.slice(0, 12)})`));
  assert.ok(w.commands.includes(`tty: /tmp/b.sh 'x y'`));
});

test('a rerun with nothing changed skips every step and only saves', async () => {
  const keys = chainKeys(BASE, [packagesContent('apt', [], ['apache2']), ...PLAN.scripts.map(scriptContent)]);
  const w = world({ present: keys });
  await createImage({ ...PLAN, packages: { installer: 'apt', packages: ['apache2'], repos: [] } }, w.deps);
  assert.equal(w.calls[0], `start ${keys[2]}`);
  assert.deepEqual(steps(w.log).filter((l) => l.endsWith('(cached)')), ['step Installing user packages (cached)', 'step Executing user script a.sh (cached)', 'step Executing user script b.sh x y (cached)']);
  assert.ok(!steps(w.log).includes('step Installing user packages'));
  assert.deepEqual(w.calls.slice(1), ['shutdown 7']);
});

test('a failed script: StratusLab\'s message and the script\'s last lines, the VM killed, no shutdown, no layer of the failed step', async () => {
  const w = world({ failing: 'b.sh' });
  await assert.rejects(createImage(PLAN, w.deps), (e) => isStratusError(e, 'CREATE_IMAGE_FAILED')
    && e.message === 'An error occurred while executing script b.sh x y\n    exit status 3; its last lines:\n    | working\n    | it broke');
  assert.deepEqual(w.calls.map((c) => c.split(' ')[0]), ['start', 'layer', 'kill']);
  assert.ok(w.log.includes('output working\r\nit broke\r\n'), 'the script\'s output was shown as it came');
  assert.equal(w.interrupts.length, 0);
});

test('packages: yum means dnf on a guest that has it; the failure is "An error occurred while installing packages"', async () => {
  const w = world({ hasDnf: true });
  await createImage({ ...PLAN, scripts: [], packages: { installer: 'yum', packages: ['httpd'], repos: [] } }, w.deps);
  assert.deepEqual(w.commands.filter((c) => /dnf|yum/.test(c)), ['command -v dnf >/dev/null 2>&1', 'dnf -y update', 'dnf -y --nogpgcheck install httpd']);
  assert.deepEqual(steps(w.log).slice(4, 7), ['step Executing user prerecipe', 'step Installing user packages', 'step Executing user recipe']);
  const old = world({ hasDnf: false });
  await createImage({ ...PLAN, scripts: [], packages: { installer: 'yum', packages: ['httpd'], repos: [] } }, old.deps);
  assert.ok(old.commands.includes('yum -y --nogpgcheck install httpd'));
  const failing = world();
  failing.deps.remote = () => ({ run: async (c) => (c.includes('install') ? { code: 100, tail: ['E: Unable to locate package nope'] } : { code: 0, tail: [] }), copy: async () => undefined });
  await assert.rejects(createImage({ ...PLAN, scripts: [], packages: { installer: 'apt', packages: ['nope'], repos: [] } }, failing.deps),
    (e) => isStratusError(e, 'CREATE_IMAGE_FAILED') && e.message.startsWith('An error occurred while installing packages\n') && e.message.endsWith('| E: Unable to locate package nope'));
  assert.ok(failing.calls.includes('kill 7'));
});

test('a cloud without the layer routes: said once, and the image is made without the cache', async () => {
  const w = world({ layers: 'missing' });
  await createImage(PLAN, w.deps);
  assert.deepEqual(w.log.filter((l) => l.startsWith('warn')), ['warn This cloud keeps no step layers: going on without the step cache']);
  assert.deepEqual(w.calls, ['start -', 'shutdown 7']);
  assert.ok(!w.commands.includes('sync'), 'no sync for a layer that will not be kept');
});

test('--no-cache: no layer asked for or kept', async () => {
  const w = world({ layers: 'none' });
  await createImage(PLAN, w.deps);
  assert.deepEqual(w.calls, ['start -', 'shutdown 7']);
});

test('--no-shutdown: the VM is left running with StratusLab\'s lines; --no-upload also drops the e-mail line', async () => {
  const w = world();
  await createImage({ ...PLAN, shutdown: false, saves: false }, w.deps);
  assert.deepEqual(w.log.slice(-2), ['step Machine ready for use', 'info \n\tMachine IP: 192.0.2.7\tRemember to stop the machine when finished']);
  assert.ok(!w.calls.some((c) => c.startsWith('shutdown') || c.startsWith('kill')));
  assert.ok(!w.log.some((l) => l.includes('Please check')));
  assert.ok(!w.commands.includes(FORGET_BUILD), 'a VM left running for its user keeps its keys');
});

test('a VM that fails to boot is killed with StratusLab\'s message', async () => {
  const w = world();
  w.deps.instance = async () => vm('Failed', 'no bootable device');
  w.deps.start = async () => vm('Boot');
  await assert.rejects(createImage(PLAN, w.deps), (e) => isStratusError(e, 'INSTANCE_FAILED') && e.message === 'Failed to start VM (id=7, ip=192.0.2.7): no bootable device');
  assert.deepEqual(w.calls, ['kill 7']);
});

test('interrupted (Ctrl-C) while a script runs: the clean-up kills the VM', async () => {
  const w = world();
  let release: () => void = () => undefined;
  const inScript = new Promise<void>((r) => { release = r; });
  const base = w.deps.remote(vm('Running'));
  w.deps.remote = () => ({ ...base, run: async (c, o) => { if (c.startsWith('/tmp/a.sh')) { release(); await new Promise(() => undefined); } return base.run(c, o); } });
  void createImage(PLAN, w.deps);
  await inScript;
  assert.equal(w.interrupts.length, 1);
  await w.interrupts[0]?.();
  assert.deepEqual(w.calls, ['start -', 'kill 7']);
  assert.ok(w.log.includes('warn Interrupted: killing VM 7; nothing is saved'));
});
