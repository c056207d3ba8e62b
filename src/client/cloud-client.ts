import type { InstanceInfo, RunInstancesRequest } from '../domain/instance-wire.js';
import { PdiskClient, responseError } from './pdisk-client.js';

/**
 * Typed client of a Stratus server's cloud service (/instances), beside its disk service:
 * one server, one transport (HTTP Basic, errors as StratusErrors).
 */
export class CloudClient extends PdiskClient {
  runInstances(req: RunInstancesRequest): Promise<InstanceInfo[]> {
    return this.json('POST', '/instances', req);
  }

  listInstances(): Promise<InstanceInfo[]> {
    return this.json('GET', '/instances');
  }

  instance(id: number | string): Promise<InstanceInfo> {
    return this.json('GET', `/instances/${encodeURIComponent(String(id))}`);
  }

  killInstance(id: number | string): Promise<InstanceInfo> {
    return this.json('DELETE', `/instances/${encodeURIComponent(String(id))}`);
  }

  shutdownInstance(id: number | string): Promise<InstanceInfo> {
    return this.json('POST', `/instances/${encodeURIComponent(String(id))}/shutdown`);
  }

  instanceContext(id: number | string): Promise<{ method: string; context: Record<string, string> }> {
    return this.json('GET', `/instances/${encodeURIComponent(String(id))}/context`);
  }

  async instanceConsole(id: number | string): Promise<string> {
    const res = await this.raw('GET', `/instances/${encodeURIComponent(String(id))}/console`, { accept: 'text/plain' });
    if ((res.statusCode ?? 0) >= 400) throw await responseError(res, this.endpoint);
    let text = '';
    res.setEncoding('utf8');
    for await (const chunk of res) text += chunk as string;
    return text;
  }
}
