import { StratusError } from '../domain/errors.js';
import type { VolumeAttachment } from '../domain/instance-wire.js';
import { requireUuid } from '../domain/volume.js';
import type { Principal } from '../accounts/accounts.js';
import type { InstanceService } from '../compute/instances.js';
import type { DataDisk } from '../compute/launch.js';
import { SERIAL_BYTES } from '../compute/drivers/qemu/qemu-args.js';
import type { InstanceRow } from '../storage/instances.js';
import type { Attached, InstanceDisks } from '../volumes/instance-disks.js';

/** The QEMU block node of the volume attached on `target` (its device is `dev-vol-<target>`). */
const nodeOf = (target: string): string => `vol-${target}`;
const targetOf = (node: string): string | undefined => (node.startsWith('vol-') ? node.slice('vol-'.length) : undefined);

/** What the guest reads as a volume's serial: the start of its UUID (virtio-blk keeps 20 bytes). */
export function serialOf(uuid: string): string {
  return uuid.slice(0, SERIAL_BYTES);
}

/**
 * Volumes on running instances (stratus-attach-volume, stratus-detach-volume, run-instance
 * --persistent-disk), with pdisk's mount records as the bookkeeping: a volume is recorded on
 * the VM first (where its rights, type and room are decided, with the volume's row locked),
 * then hot-plugged through QMP; if QEMU refuses, the record goes again. The records name the
 * VM, so a restarted server still knows them (QEMU keeps the disks), and the VM's end removes
 * them (released). Attach and detach of one VM run one at a time, so two never pick the same
 * device.
 */
export class Attachments {
  private readonly queues = new Map<number, Promise<unknown>>();

  constructor(private readonly instances: InstanceService, private readonly disks: InstanceDisks) {}

  /**
   * Attaches a volume of the VM's owner, or a PUBLIC one (then read-only). The volume is
   * checked before the VM's state, so a refusal says nothing of the VM to a caller who may
   * not use the volume either.
   */
  attach(row: InstanceRow, actor: Principal, uuid: string): Promise<VolumeAttachment> {
    const user = ownerOf(row, actor);
    return this.oneAtATime(row.id, async () => {
      await this.disks.attachable(user, uuid);
      if (row.state !== 'Running' || !this.instances.runs(row.id)) throw notRunning(row);
      // Devices QEMU has may have lost their record (the volume's owner can end it through pdisk).
      const plugged = (await this.instances.dataDisks(row.id)).map((d) => targetOf(d.id)).filter((t): t is string => t !== undefined);
      const attached = await this.disks.attach(user, uuid, String(row.id), plugged);
      const { mount } = attached;
      const at = this.disks.locate(mount.volume);
      try {
        await this.instances.attachDisk(row.id, { id: nodeOf(mount.target), path: at.path, format: at.format, readonly: attached.readOnly, serial: serialOf(mount.volume) });
      } catch (e) {
        await this.disks.detach(mount.volume, String(row.id), user.username).catch(() => undefined);
        if (e instanceof StratusError && e.code === 'INSTANCE_STATE') throw notRunning(row);
        throw new StratusError('TOOL_FAILED', `DISK ${mount.volume}: QEMU did not attach it to VM ${row.id}: ${(e as Error).message}`, { cause: e });
      }
      return view(attached);
    });
  }

  /**
   * Unplugs a volume from the VM and ends its record. What QEMU has plugged in counts as
   * attached even when its record is gone, and a record whose device is gone (the VM stopped,
   * or the server stopped mid-attach) is ended all the same.
   */
  detach(row: InstanceRow, actor: Principal, uuid: string): Promise<VolumeAttachment> {
    const user = ownerOf(row, actor);
    const volume = requireUuid(uuid);
    const vm = String(row.id);
    return this.oneAtATime(row.id, async () => {
      const record = (await this.disks.attachments(vm, user.username)).find((a) => a.mount.volume === volume);
      const disks = await this.instances.dataDisks(row.id);
      const plugged = record ? disks.find((d) => d.id === nodeOf(record.mount.target)) : disks.find((d) => targetOf(d.id) && d.serial === serialOf(volume));
      if (!record && !plugged) {
        throw new StratusError('VOLUME_NOT_FOUND', `DISK ${volume}: not attached to VM ${row.id}`, { hint: `Volumes attached with stratus-attach-volume or run-instance --persistent-disk are listed by GET /instances/${row.id}/volumes.` });
      }
      if (plugged) await this.instances.detachDisk(row.id, plugged.id);
      if (record) await this.disks.detach(volume, vm, user.username);
      const target = record?.mount.target ?? targetOf(plugged?.id ?? '') ?? '';
      return record ? view(record) : { volume, vmId: row.id, target, readOnly: true, serial: serialOf(volume), created: '' };
    });
  }

  /** The volumes recorded on the VM. */
  async list(row: InstanceRow, actor: Principal): Promise<VolumeAttachment[]> {
    return (await this.disks.attachments(String(row.id), ownerOf(row, actor).username)).map(view);
  }

  /**
   * run-instance --persistent-disk, before anything is made: the volume is one the user may
   * attach, with room for `count` VMs (StratusLab's client checked the free "user" slots).
   */
  async checkStart(user: Principal, uuid: string, count: number): Promise<void> {
    const { volume } = await this.disks.attachable(user, uuid);
    const room = await this.disks.room(user, volume);
    if (count > room.free) {
      throw new StratusError('VOLUME_IN_USE', `disk cannot be attached; it is already mounted (${room.free}/${count})`, {
        hint: room.why || 'A volume its owner attaches read-write is in one VM at a time: run one VM with it (-n 1).',
      });
    }
  }

  /** In the new VM's Prolog: the volume recorded on it, as a disk on QEMU's command line. */
  async atStart(row: InstanceRow, user: Principal, uuid: string): Promise<DataDisk> {
    const attached = await this.disks.attach(user, uuid, String(row.id));
    const at = this.disks.locate(attached.mount.volume);
    return { id: nodeOf(attached.mount.target), serial: serialOf(attached.mount.volume), path: at.path, format: at.format, readonly: attached.readOnly };
  }

  /** The VM is gone: nothing stays recorded on it. */
  async released(vmId: number): Promise<void> {
    await this.disks.releaseVm(String(vmId));
  }

  private oneAtATime<T>(id: number, work: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(id) ?? Promise.resolve()).then(work, work);
    const tail = run.then(() => undefined, () => undefined);
    this.queues.set(id, tail);
    void tail.then(() => {
      if (this.queues.get(id) === tail) this.queues.delete(id);
    });
    return run;
  }
}

/**
 * Whose rights an attachment uses: the VM's owner's. The admin acting on someone's VM gets
 * what the owner could attach, so she cannot hand one account's private volume to another.
 */
function ownerOf(row: InstanceRow, actor: Principal): Principal {
  return actor.username === row.owner && (row.owner_id === '' || row.owner_id === actor.id) ? actor : { id: row.owner_id, username: row.owner, admin: false };
}

function notRunning(row: InstanceRow): StratusError {
  return new StratusError('INSTANCE_STATE', `VM ${row.id} is not in running state`, { hint: `It is ${row.state}; volumes attach to Running instances only.` });
}

function view(a: Attached): VolumeAttachment {
  return { volume: a.mount.volume, vmId: Number(a.mount.vm_id), target: a.mount.target, readOnly: a.readOnly, serial: serialOf(a.mount.volume), created: a.mount.created };
}
