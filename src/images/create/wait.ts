import { StratusError } from '../../domain/errors.js';
import type { InstanceInfo } from '../../domain/instance-wire.js';
import type { Remote } from './remote.js';

/** What the waits print: a dot per try, then the end of the line of dots. */
export interface Dots {
  dot(): void;
  dotsDone(): void;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/** `(id=…, ip=…)`, as StratusLab's messages named the VM. */
export function vmLabel(vm: Pick<InstanceInfo, 'id' | 'address'>): string {
  return `(id=${vm.id}, ip=${vm.address ?? ''})`;
}

function failedToStart(vm: InstanceInfo): StratusError {
  return new StratusError('INSTANCE_FAILED', `Failed to start VM ${vmLabel(vm)}: ${vm.message ?? `it is ${vm.state}`}`, {
    hint: 'stratus-describe-instance -v shows why; the console (GET /instances/<id>/console) shows what the guest said.',
  });
}

/**
 * §3 step 7: polls the instance, a dot each time, until it is Running; a Failed (or ended)
 * instance, or one still not Running after `timeoutS`, is StratusLab's failure.
 */
export async function waitForRunning(get: (id: number) => Promise<InstanceInfo>, vm: InstanceInfo, timeoutS: number, dots: Dots, clock: Clock, pollMs = 2000): Promise<InstanceInfo> {
  const started = clock.now();
  try {
    for (;;) {
      const now = await get(vm.id);
      dots.dot();
      if (now.state === 'Running') return now;
      if (now.state === 'Failed' || now.state === 'Done' || now.state === 'Unknown') throw failedToStart(now);
      if (clock.now() - started >= timeoutS * 1000) {
        throw new StratusError('INSTANCE_FAILED', `Failed to start VM within ${timeoutS} seconds ${vmLabel(now)}`, { hint: 'Give the guest longer with --vm-start-timeout.' });
      }
      await clock.sleep(pollMs);
    }
  } finally {
    dots.dotsDone();
  }
}

/**
 * §3 step 8, "ping": the guest's SSH port must say an SSH banner. A port QEMU forwards accepts
 * connections before the guest listens, so an open port proves nothing. Every few tries the
 * instance is asked whether it still runs, so a guest that died fails at once.
 */
export async function waitForNetwork(probe: (timeoutMs: number) => Promise<string | undefined>, get: (id: number) => Promise<InstanceInfo>,
  vm: InstanceInfo, timeoutS: number, dots: Dots, clock: Clock): Promise<void> {
  const deadline = clock.now() + timeoutS * 1000;
  try {
    for (let attempt = 1; ; attempt++) {
      const banner = await probe(Math.max(500, Math.min(3000, deadline - clock.now())));
      dots.dot();
      if (banner?.startsWith('SSH-')) return;
      if (attempt % 5 === 0) {
        const now = await get(vm.id);
        if (now.state !== 'Running') throw failedToStart(now);
      }
      if (clock.now() >= deadline) {
        throw new StratusError('INSTANCE_FAILED', `Unable to ping VM in ${timeoutS} seconds ${vmLabel(vm)}`, {
          hint: 'The guest\'s SSH server never answered; give it longer with --vm-ping-timeout, or check the image on its own with stratus-run-instance.',
        });
      }
      await clock.sleep(1000);
    }
  } finally {
    dots.dotsDone();
  }
}

/** §3 step 9: `ssh root@ip true`, every 6 s up to 40 times, as StratusLab did (keys may arrive after sshd). */
export async function waitForLogin(remote: Remote, vm: InstanceInfo, clock: Clock, tries = 40, intervalMs = 6000): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await remote.run('true');
    if (r.code === 0) return;
    if (attempt >= tries) {
      throw new StratusError('INSTANCE_FAILED', `Unable to connect to VM ${vmLabel(vm)} as root over SSH after ${tries} tries: ${r.tail.at(-1) ?? `exit ${r.code}`}`, {
        hint: 'The key pair must match: -k names the public key given to the VM, and its private key is the same path without .pub.',
      });
    }
    await clock.sleep(intervalMs);
  }
}
