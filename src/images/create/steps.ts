import { StratusError, isStratusError } from '../../domain/errors.js';
import type { InstanceInfo } from '../../domain/instance-wire.js';
import { HAS_DNF, CLOUD_INIT_SETTLED, FORGET_BUILD, packageCommands } from './installers.js';
import type { Installer, Repo } from './installers.js';
import { scriptCommand } from './scripts.js';
import type { ScriptEntry } from './scripts.js';
import { chainKeys, packagesContent, resumePoint, scriptContent } from './step-cache.js';
import type { LayerApi } from './step-cache.js';
import type { Remote } from './remote.js';
import { realClock, vmLabel, waitForLogin, waitForNetwork, waitForRunning } from './wait.js';
import type { Clock, Dots } from './wait.js';

/** What create-image prints as it goes (the CLI prints it the StratusLab way). */
export interface CreateEvents extends Dots {
  action(message: string): void;
  step(message: string): void;
  info(message: string): void;
  detail(message: string): void;
  warn(message: string): void;
  /** A script's output, as it comes. */
  output(chunk: Buffer): void;
}

/** What the steps do, checked and read before any VM starts. */
export interface CreatePlan {
  /** The base image's Marketplace identifier (the step chain starts from it). */
  baseId: string;
  /** -a and --extra-os-repos, with the installer; undefined when neither was given. */
  packages?: { installer: Installer; packages: string[]; repos: Repo[] };
  scripts: ScriptEntry[];
  authorEmail: string;
  /** The VM saves its disk at shutdown (false with --no-upload). */
  saves: boolean;
  /** false with --no-shutdown: the VM is left running. */
  shutdown: boolean;
  startTimeoutS: number;
  pingTimeoutS: number;
}

/** The cloud as the steps use it. */
export interface CreateDeps {
  /** Starts the VM (from `layer` when given), printing run-instance's lines. */
  start(layer: string | undefined): Promise<InstanceInfo>;
  instance(id: number): Promise<InstanceInfo>;
  kill(id: number): Promise<unknown>;
  shutdown(id: number): Promise<InstanceInfo>;
  /** The step cache; undefined with --no-cache. */
  layers?: LayerApi;
  /** The guest's SSH port, probed for its banner. */
  probe(vm: InstanceInfo, timeoutMs: number): Promise<string | undefined>;
  remote(vm: InstanceInfo): Remote;
  /** Registers a clean-up to run if the user interrupts (Ctrl-C, SIGTERM); returns its removal. */
  onInterrupt(cleanup: () => Promise<void>): () => void;
  events: CreateEvents;
  clock?: Clock;
}

interface Step {
  /** The line of §3 this step prints (`Installing user packages`, `Executing user script <s>`). */
  label: string;
  /** Its step-cache content. */
  content: Array<string | Buffer>;
  run(remote: Remote, vm: InstanceInfo): Promise<void>;
}

/**
 * §3 steps 6-15, from `Starting base image` to `Shutting down machine`: start the VM (from the
 * last cached layer when there is one), wait for it, run the package step and the scripts
 * (keeping a layer after each), then shut it down so the cloud's Epilog saves it. Whatever
 * fails once the VM exists, an interruption included, kills it: a killed VM saves nothing.
 */
export async function createImage(plan: CreatePlan, deps: CreateDeps): Promise<InstanceInfo> {
  const { events } = deps;
  const clock = deps.clock ?? realClock;
  const steps = planSteps(plan, events);
  const keys = chainKeys(plan.baseId, steps.map((s) => s.content));
  const cache = new StepCache(deps.layers, events);
  const skip = await cache.resumePoint(keys);
  const began = clock.now();
  /** With -v, how long a step took: with the step cache, the reruns' figures show what was skipped. */
  const timed = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const from = clock.now();
    const result = await work();
    events.detail(`${label}: ${seconds(clock.now() - from)}`);
    return result;
  };

  events.step('Starting base image');
  let starting: Promise<InstanceInfo> | undefined;
  let remote: Remote | undefined;
  // Interrupted while the cloud starts it, the VM is killed as soon as its ID is known.
  let interrupted = false;
  const dropGuard = deps.onInterrupt(async () => {
    interrupted = true;
    const vm = await starting?.catch(() => undefined);
    if (vm) {
      events.warn(`Interrupted: killing VM ${vm.id}; nothing is saved`);
      await deps.kill(vm.id).catch(() => undefined);
    }
    remote?.close?.();
  });
  let vm: InstanceInfo | undefined;
  try {
    starting = deps.start(skip > 0 ? keys[skip - 1] : undefined);
    vm = await timed('Starting base image', () => starting as Promise<InstanceInfo>);
    const started = vm;
    events.step('Waiting for machine to boot');
    vm = await timed('Waiting for machine to boot', () => waitForRunning((id) => deps.instance(id), started, plan.startTimeoutS, events, clock));
    const running = vm;
    events.step('Waiting for machine network to start');
    await timed('Waiting for machine network to start', () => waitForNetwork((ms) => deps.probe(running, ms), (id) => deps.instance(id), running, plan.pingTimeoutS, events, clock));
    events.step('Check if we can connect to the machine');
    const guest = deps.remote(running);
    remote = guest;
    await timed('Check if we can connect to the machine', async () => {
      await waitForLogin(guest, running, clock);
      await guest.run(CLOUD_INIT_SETTLED);
    });
    events.step('Executing user prerecipe');
    events.detail('No prerecipe to execute');
    let n = 0;
    const runStep = async (step: Step): Promise<void> => {
      const i = n++;
      if (i < skip) {
        events.step(`${step.label} (cached)`);
        events.detail(`${step.label}: cached (layer ${(keys[i] as string).slice(0, 12)})`);
        return;
      }
      if (step.label.startsWith('Executing user script ')) events.detail(step.label);
      await timed(step.label, () => step.run(guest, running));
      await cache.keep(guest, running.id, keys[i] as string, step.label);
    };
    if (plan.packages) {
      const packageStep = steps[0] as Step;
      if (skip === 0) events.step(packageStep.label);
      await runStep(packageStep);
    }
    events.step('Executing user recipe');
    events.detail('No recipe to execute');
    events.step('Executing user scripts');
    if (plan.scripts.length === 0) events.detail('No scripts to execute');
    for (const step of steps.slice(plan.packages ? 1 : 0)) await runStep(step);
    if (plan.saves && plan.shutdown) {
      await timed('Removing what the build left for every VM of the image', async () => {
        const r = await guest.run(FORGET_BUILD);
        if (r.code !== 0) events.warn(`some of what the build left (host keys, keys, histories, machine-id) could not be removed (exit status ${r.code}): ${r.tail.join(' ').trim()}`);
      });
    }
    events.action('Finished building image increment.');
    if (plan.saves) events.action(`Please check ${plan.authorEmail} for new image ID and instruction.`);
  } catch (e) {
    // Interrupted, the clean-up above kills it (and the failure is only the interruption's echo).
    if (vm && !interrupted) {
      events.detail(`Killing VM ${vm.id}: nothing is saved`);
      await deps.kill(vm.id).catch((k: unknown) => events.warn(`could not kill VM ${vm?.id}: ${(k as Error).message}`));
    }
    throw e;
  } finally {
    dropGuard();
    remote?.close?.();
  }
  if (!plan.shutdown) {
    events.step('Machine ready for use');
    events.info(`\n\tMachine IP: ${vm.address ?? ''}\tRemember to stop the machine when finished`);
    return vm;
  }
  events.step('Shutting down machine');
  const id = vm.id;
  const ended = await timed('Shutting down machine (the Epilog saves the image)', () => deps.shutdown(id));
  if (ended.state === 'Failed') {
    throw new StratusError('INSTANCE_FAILED', `VM ${vm.id} did not shut down cleanly, so no image was made: ${ended.message ?? 'Failed'}`);
  }
  if (ended.message) events.detail(ended.message);
  events.detail(`Total: ${seconds(clock.now() - began)}`);
  return ended;
}

/** The steps the cache knows: the package step (when asked for), then each script. */
function planSteps(plan: CreatePlan, events: CreateEvents): Step[] {
  const steps: Step[] = [];
  const p = plan.packages;
  if (p) {
    steps.push({
      label: 'Installing user packages',
      content: packagesContent(p.installer, p.repos, p.packages),
      run: async (remote, vm) => {
        const installer = p.installer === 'yum' && (await remote.run(HAS_DNF)).code === 0 ? 'dnf' : p.installer;
        for (const command of packageCommands(installer, p.packages, p.repos)) {
          events.detail(`# ${command.shown}`);
          const r = await remote.run(command.run, { output: (d) => detailOutput(events, d) });
          if (r.code !== 0) throw stepFailed('An error occurred while installing packages', `${command.shown} (exit status ${r.code})`, r.tail, vm);
        }
      },
    });
  }
  for (const script of plan.scripts) {
    steps.push({
      label: `Executing user script ${script.text}`,
      content: scriptContent(script),
      run: async (remote, vm) => {
        await remote.copy(script.path, script.remotePath);
        const chmod = await remote.run(`chmod 0755 ${scriptCommand({ remotePath: script.remotePath, args: [] })}`);
        if (chmod.code !== 0) throw stepFailed(`An error occurred while executing script ${script.text}`, `chmod (exit status ${chmod.code})`, chmod.tail, vm);
        const r = await remote.run(scriptCommand(script), { tty: true, output: (d) => events.output(d) });
        if (r.code !== 0) throw stepFailed(`An error occurred while executing script ${script.text}`, `exit status ${r.code}`, r.tail, vm);
        events.info(`Connection to ${vm.address ?? ''} closed.`);
      },
    });
  }
  return steps;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Package managers' output is shown with -v only, as StratusLab kept it off the screen. */
function detailOutput(events: CreateEvents, chunk: Buffer): void {
  for (const line of chunk.toString().replace(/\r/g, '').split('\n')) if (line) events.detail(line);
}

/** StratusLab's message, then how it ended and its last lines. */
function stepFailed(message: string, how: string, tail: string[], vm: InstanceInfo): StratusError {
  const lines = tail.filter((l) => l.trim() !== '');
  return new StratusError('CREATE_IMAGE_FAILED', `${message}\n    ${how}; its last lines:\n${lines.map((l) => `    | ${l}`).join('\n') || '    (no output)'}`, {
    hint: `VM ${vmLabel(vm)} was killed and nothing was saved. Fix the step and run the command again; with the step cache, the steps before it are not run again.`,
  });
}

/**
 * The client side of the step cache: which steps a rerun may skip, and a layer kept after each
 * step that ran. A cloud without the layer routes (404 ROUTE_NOT_FOUND) is said once and the
 * run goes on without the cache; a layer that could not be kept only costs a later rerun.
 */
class StepCache {
  private off = false;

  constructor(private readonly api: LayerApi | undefined, private readonly events: CreateEvents) {}

  async resumePoint(keys: string[]): Promise<number> {
    if (!this.api || keys.length === 0) return 0;
    const api = this.api;
    try {
      return await resumePoint(keys, (k) => api.hasLayer(k));
    } catch (e) {
      this.failed(e, 'look up the step cache');
      return 0;
    }
  }

  async keep(remote: Remote, vmId: number, key: string, label: string): Promise<void> {
    if (!this.api || this.off) return;
    try {
      const sync = await remote.run('sync');
      if (sync.code !== 0) throw new Error(`sync in the guest failed (exit ${sync.code})`);
      await this.api.saveLayer(vmId, key);
      this.events.detail(`${label}: kept as layer ${key.slice(0, 12)}`);
    } catch (e) {
      this.failed(e, `keep the layer of "${label}"`);
    }
  }

  private failed(e: unknown, what: string): void {
    if (isStratusError(e, 'ROUTE_NOT_FOUND')) {
      this.off = true;
      this.events.warn('This cloud keeps no step layers: going on without the step cache');
      return;
    }
    if (isStratusError(e, 'AUTH_REQUIRED')) throw e;
    this.events.warn(`Could not ${what}: ${(e as Error).message}`);
  }
}
