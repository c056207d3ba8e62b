/**
 * The states an instance goes through, with StratusLab's labels (reference §2.2): the client
 * showed OpenNebula's LCM state while ACTIVE, its STATE otherwise, title-cased.
 *
 *   Pending → Prolog → Boot → Running → Shutdown → Epilog → Done
 *   Failed: deployment or shutdown failed (with its message); resources are released.
 *   Unknown: the guest halted itself; its resources are held until it is killed.
 */
export const INSTANCE_STATES = ['Pending', 'Prolog', 'Boot', 'Running', 'Shutdown', 'Epilog', 'Done', 'Failed', 'Unknown'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/**
 * Which state may follow which. Kill (finalize) ends any live state in Done; a failure can
 * happen at any step before Done; Epilog follows Shutdown, and also a Running or Unknown guest
 * whose disk is being saved.
 */
const NEXT: Readonly<Record<InstanceState, readonly InstanceState[]>> = {
  Pending: ['Prolog', 'Failed', 'Done'],
  Prolog: ['Boot', 'Failed', 'Done'],
  Boot: ['Running', 'Failed', 'Done'],
  Running: ['Shutdown', 'Epilog', 'Unknown', 'Failed', 'Done'],
  Shutdown: ['Epilog', 'Failed', 'Done'],
  Epilog: ['Done', 'Failed'],
  Unknown: ['Epilog', 'Done'],
  Failed: ['Done'],
  Done: [],
};

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return NEXT[from].includes(to);
}

/** States in which the instance holds host resources (QEMU, disks, an address). */
export function holdsResources(state: InstanceState): boolean {
  return state !== 'Done' && state !== 'Failed';
}

/** `stratus-describe-instance` lists these; Done instances drop out, as on StratusLab. */
export function isListed(state: InstanceState): boolean {
  return state !== 'Done';
}

export function isInstanceState(text: string): text is InstanceState {
  return (INSTANCE_STATES as readonly string[]).includes(text);
}
