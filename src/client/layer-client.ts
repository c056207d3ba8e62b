import { StratusError } from '../domain/errors.js';
import type { InstanceInfo, RunInstancesRequest } from '../domain/instance-wire.js';
import { CloudClient } from './cloud-client.js';
import { responseError } from './pdisk-client.js';
import { instanceRoutes, pathOf } from '../domain/routes/index.js';

/** A step layer's key: the SHA-256 of the step chain, in hex (images/create/step-cache.ts). */
const KEY = /^[0-9a-f]{64}$/;

/** A run request that may boot from a kept step layer instead of the bare base image. */
export type LayeredRunRequest = RunInstancesRequest & {
  /** The layer to boot from; the new image's parent stays the base image. */
  layer?: string;
};

/**
 * The cloud client with the step-cache routes of stratus-create-image: whether the caller has
 * a layer (`GET /instances/layers/<key>`: 200 yes, 404 no) and freezing a running VM's disk as
 * one (`POST /instances/<id>/layers` with `{ "key": … }`). A server without these routes
 * answers 404 ROUTE_NOT_FOUND, which comes back as that StratusError, so the caller can tell
 * "no such layer" from "no step cache here".
 */
export class LayerClient extends CloudClient {
  async hasLayer(key: string): Promise<boolean> {
    const res = await this.raw('GET', `/instances/layers/${checkKey(key)}`, {});
    if (res.statusCode === 200) {
      res.resume();
      return true;
    }
    const error = await responseError(res, this.endpoint);
    if (res.statusCode === 404 && error.code !== 'ROUTE_NOT_FOUND') return false;
    throw error;
  }

  async saveLayer(vmId: number, key: string): Promise<void> {
    await this.json('POST', `/instances/${encodeURIComponent(String(vmId))}/layers`, { key: checkKey(key) });
  }

  /** POST /instances, with `layer` only when there is one (a server without layers refuses the field). */
  runLayered(req: LayeredRunRequest): Promise<InstanceInfo[]> {
    const { layer, ...plain } = req;
    return this.json('POST', pathOf(instanceRoutes.run, {}), layer === undefined ? plain : { ...plain, layer: checkKey(layer) });
  }
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw new StratusError('USAGE', `a step layer key is 64 hexadecimal digits, not ${key}`);
  return key;
}
