import type { InstanceInfo, RunInstancesRequest, VolumeAttachment } from '../domain/instance-wire.js';
import { PdiskClient, responseError } from './pdisk-client.js';
import { instanceRoutes as routes, pathOf } from '../domain/routes/index.js';

/**
 * Typed client of a Stratus server's cloud service (/instances), beside its disk service:
 * one server, one transport (HTTP Basic, errors as StratusErrors).
 */
export class CloudClient extends PdiskClient {
  runInstances(req: RunInstancesRequest): Promise<InstanceInfo[]> {
    return this.json('POST', pathOf(routes.run, {}), req);
  }

  listInstances(): Promise<InstanceInfo[]> {
    return this.json('GET', pathOf(routes.list, {}));
  }

  instance(id: number | string): Promise<InstanceInfo> {
    return this.json('GET', pathOf(routes.get, { id: String(id) }));
  }

  killInstance(id: number | string): Promise<InstanceInfo> {
    return this.json('DELETE', pathOf(routes.kill, { id: String(id) }));
  }

  shutdownInstance(id: number | string): Promise<InstanceInfo> {
    return this.json('POST', pathOf(routes.shutdown, { id: String(id) }));
  }

  instanceContext(id: number | string): Promise<{ method: string; context: Record<string, string> }> {
    return this.json('GET', pathOf(routes.context, { id: String(id) }));
  }

  attachVolume(id: number | string, uuid: string): Promise<VolumeAttachment> {
    return this.json('POST', pathOf(routes.attach, { id: String(id) }), { uuid });
  }

  detachVolume(id: number | string, uuid: string): Promise<VolumeAttachment> {
    return this.json('DELETE', pathOf(routes.detach, { id: String(id), uuid }));
  }

  instanceVolumes(id: number | string): Promise<VolumeAttachment[]> {
    return this.json('GET', pathOf(routes.volumes, { id: String(id) }));
  }

  async instanceConsole(id: number | string): Promise<string> {
    const res = await this.raw('GET', pathOf(routes.console, { id: String(id) }), { accept: 'text/plain' });
    if ((res.statusCode ?? 0) >= 400) throw await responseError(res, this.endpoint);
    let text = '';
    res.setEncoding('utf8');
    for await (const chunk of res) text += chunk as string;
    return text;
  }
}
