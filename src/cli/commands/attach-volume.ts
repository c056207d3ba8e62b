import { volumeAttachmentCommand } from './volume-attachment.js';

/** `stratus-attach-volume -i VMID uuid …`: hot-plugs volumes into a running VM. */
export default volumeAttachmentCommand({
  name: 'stratus-attach-volume',
  description: 'Attach persistent volumes (disks) to a running virtual machine: your own read-write, a PUBLIC one read-only.',
  verb: 'attach',
  act: (client, vm, uuid) => client.attachVolume(vm, uuid),
  line: (a, vm) => `ATTACHED ${a.volume} in VM ${vm} on /dev/${a.target}`,
});
