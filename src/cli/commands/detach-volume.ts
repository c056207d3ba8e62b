import { volumeAttachmentCommand } from './volume-attachment.js';

/** `stratus-detach-volume -i VMID uuid …`: unplugs volumes from a VM (unmount them in the guest first). */
export default volumeAttachmentCommand({
  name: 'stratus-detach-volume',
  description: 'Detach persistent volumes (disks) from a virtual machine. Unmount them inside the guest first.',
  verb: 'detach',
  act: (client, vm, uuid) => client.detachVolume(vm, uuid),
  line: (a, vm) => `DETACHED ${a.volume} from VM ${vm} on /dev/${a.target}`,
});
