import { StratusError } from '../domain/errors.js';
import type { LayerInfo, LayerSaved } from '../domain/instance-wire.js';
import type { Principal } from '../accounts/accounts.js';
import type { InstanceService } from '../compute/instances.js';
import type { InstanceRow, InstanceStore } from '../storage/instances.js';
import type { VolumeRow } from '../storage/volumes/store.js';
import { matching, requireLayerKey } from '../volumes/layers.js';
import type { InstanceLayers, LayerOwner } from '../volumes/layers.js';
import { parseSpec } from './instance-spec.js';

/**
 * The instance layer cache as the cloud serves it (/instances/<id>/layers, /instances/layers/<key>):
 * each account sees and touches its own layers only, and a layer is frozen from an instance
 * the caller may act on, while QEMU runs it. A layer that a live instance was started from is
 * neither removed nor evicted, so a build running from it can still fall back to it.
 */
export class CloudLayers {
  constructor(private readonly o: { instances: InstanceService; store: InstanceStore; layers: InstanceLayers }) {}

  /** Freezes `row`'s root disk (the caller may act on it) as the caller's layer of `key`. */
  async save(actor: Principal, row: InstanceRow, key: string): Promise<LayerSaved> {
    requireLayerKey(key);
    if (row.state !== 'Running' || !this.o.instances.runs(row.id)) {
      throw new StratusError('INSTANCE_STATE', `VM ${row.id} is not in running state (it is ${row.state})`, { hint: 'A layer is saved from a Running instance, after sync in the guest.' });
    }
    if (!row.disk || !parseSpec(row.spec).diskMade) {
      throw new StratusError('LAYER_MISMATCH', `VM ${row.id} boots a volume as it is, not a disk the cloud made from a base image: it has no layer to keep`);
    }
    const layer = await this.o.layers.freeze(actor, key, row.disk, (work) => this.o.instances.paused(row.id, work), await this.inUse(actor));
    return { key: layer.key, bytes: Number(layer.bytes) };
  }

  async info(actor: Principal, key: string): Promise<LayerInfo> {
    const layer = await this.o.layers.require(actor, key);
    return { key: layer.key, bytes: Number(layer.bytes), created: layer.created };
  }

  async remove(actor: Principal, key: string): Promise<void> {
    await this.o.layers.remove(actor, key, await this.inUse(actor));
  }

  /** Before anything is made for a run: the caller's layer of `key`, made over `origin`. Its id goes in the spec. */
  async check(actor: Principal, key: string, origin: VolumeRow): Promise<{ key: string; id: string }> {
    const layer = matching(await this.o.layers.require(actor, key), origin);
    return { key: layer.key, id: layer.id };
  }

  /** In Prolog: the instance's disk, a snapshot of `origin` that starts as the caller's layer of `key`. */
  async liveCopy(actor: Principal, key: string, origin: VolumeRow, what: string): Promise<{ volume: VolumeRow; layer: { key: string; id: string } }> {
    const { volume, layer } = await this.o.layers.liveCopy(actor, key, origin, what);
    return { volume, layer: { key: layer.key, id: layer.id } };
  }

  /** Removes the layers no one can run any more (with the quarantine purge). */
  collect(): Promise<number> {
    return this.o.layers.collect();
  }

  /** The layers `owner`'s live instances were started from. */
  private async inUse(owner: LayerOwner): Promise<Set<string>> {
    const ids = (await this.o.store.live()).filter((r) => r.owner_id === owner.id).map((r) => parseSpec(r.spec).layer?.id);
    return new Set(ids.filter((id): id is string => id !== undefined));
  }
}
