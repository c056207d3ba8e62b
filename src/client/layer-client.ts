import { StratusError } from '../domain/errors.js';
import type { LayerInfo, LayerSaved } from '../domain/instance-wire.js';
import { CloudClient } from './cloud-client.js';
import { responseError } from './pdisk-client.js';
import { instanceRoutes as routes, pathOf } from '../domain/routes/index.js';

/**
 * The instance layer cache of a Stratus server (the step cache of stratus-create-image), on
 * the cloud client's transport: each account's own layers, by a key of 64 lowercase hex digits.
 * A run starts from one with `runInstances({ …, layer: key })`.
 */
export class LayerClient extends CloudClient {
  /** Whether the caller has a layer of `key` that can be run (HEAD: nothing but the answer's status). */
  async hasLayer(key: string): Promise<boolean> {
    const res = await this.raw('HEAD', pathOf(routes.layer, { key: checkKey(key) }), {});
    if (res.statusCode === 200) {
      res.resume();
      return true;
    }
    const error = await responseError(res, this.endpoint);
    if (error.code === 'LAYER_NOT_FOUND') return false;
    throw error;
  }

  /** The caller's layer of `key` (LAYER_NOT_FOUND when there is none). */
  layer(key: string): Promise<LayerInfo> {
    return this.json('GET', pathOf(routes.layer, { key: checkKey(key) }));
  }

  /**
   * Freezes the running VM's root disk as the caller's layer of `key`, replacing one of the
   * same key. Run `sync` in the guest first: what the guest has not written is not in it.
   */
  async saveLayer(vmId: number, key: string): Promise<void> {
    await this.savedLayer(vmId, key);
  }

  /** saveLayer, with what the server kept: the key and the layer file's size. */
  savedLayer(vmId: number, key: string): Promise<LayerSaved> {
    return this.json('POST', pathOf(routes.saveLayer, { id: String(vmId) }), { key: checkKey(key) });
  }

  /** Removes the caller's layer of `key` (LAYER_IN_USE while a live instance started from it runs). */
  async deleteLayer(key: string): Promise<void> {
    await this.json('DELETE', pathOf(routes.deleteLayer, { key: checkKey(key) }));
  }
}

/** A key that is not 64 lowercase hex digits never reaches a URL (the server would refuse it too). */
function checkKey(key: string): string {
  if (!/^[0-9a-f]{64}$/.test(key)) throw new StratusError('LAYER_INVALID', `a step layer key is 64 lowercase hexadecimal digits, not ${key}`);
  return key;
}
