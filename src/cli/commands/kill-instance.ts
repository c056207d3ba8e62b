import { instanceAction } from './instance-action.js';

/** `stratus-kill-instance vm-id …`: ends the VMs at once; what they changed is lost. */
export default instanceAction('stratus-kill-instance', 'Kill virtual machines at once (their disk changes are lost).', 'Kill', (c, id) => c.killInstance(id));
