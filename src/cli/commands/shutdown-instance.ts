import { instanceAction } from './instance-action.js';

/** `stratus-shutdown-instance vm-id …`: the ACPI power button, then Epilog; waits until each VM is Done or Failed. */
export default instanceAction('stratus-shutdown-instance', 'Shut virtual machines down cleanly (ACPI power button, then Epilog).', 'Shutdown', (c, id) => c.shutdownInstance(id));
