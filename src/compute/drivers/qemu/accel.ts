import { accessSync, constants } from 'node:fs';
import { run } from '../../../platform/run.js';
import { QEMU_BINARY } from './qemu-process.js';

let probed: Promise<'kvm' | 'tcg'> | undefined;

/**
 * KVM when it really works, TCG emulation otherwise. A /dev/kvm node is not proof: inside
 * some nested sandboxes it exists and QEMU then aborts while creating the vCPU ("failed to
 * set MSR"). So a paused QEMU with a host CPU is started once, asked whether KVM is on, and
 * told to quit. STRATUS_ACCEL=kvm|tcg overrides the probe.
 */
export function detectAccel(): Promise<'kvm' | 'tcg'> {
  const forced = process.env.STRATUS_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return Promise.resolve(forced);
  probed ??= probe();
  return probed;
}

async function probe(): Promise<'kvm' | 'tcg'> {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return 'tcg';
  }
  const args = ['-accel', 'kvm', '-cpu', 'host', '-machine', 'pc', '-nodefaults', '-display', 'none', '-S', '-m', '16', '-qmp', 'stdio'];
  const input = '{"execute":"qmp_capabilities"}\n{"execute":"query-kvm"}\n{"execute":"quit"}\n';
  return run(QEMU_BINARY, args, { input, timeoutMs: 10_000 }).then((r) => (/"enabled":\s*true/.test(r.stdout) ? 'kvm' : 'tcg'), () => 'tcg');
}
