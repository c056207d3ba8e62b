import type { FastifyInstance } from 'fastify';
import { StratusError } from '../domain/errors.js';
import { checkSaveRequest, networkModelOf } from '../domain/instance-wire.js';
import type { RunInstancesRequest } from '../domain/instance-wire.js';
import type { AccountsApi, InstancesApi } from './services.js';
import { caller } from './auth.js';
import { baseUrl } from './negotiate.js';
import { instanceRoutes as routes, pathOf } from '../domain/routes/index.js';
import { serve } from './serve.js';

/**
 * /instances: the cloud service (StratusLab's OpenNebula front-end, as JSON). Every route needs
 * an account; each instance is its owner's alone (others' answer 404, as a vm ID never used),
 * and the admin sees all of them.
 */
export function instanceRoutes(app: FastifyInstance, instances: InstancesApi, accounts: AccountsApi): void {
  serve(app, routes.list, async (request) => instances.list(await caller(request, accounts)));

  serve(app, routes.run, async (request, reply) => {
    const actor = await caller(request, accounts);
    const started = await instances.run(actor, runRequest(request.body));
    const first = started[0];
    if (first) reply.header('Location', `${baseUrl(request)}${pathOf(routes.get, { id: String(first.id) })}`);
    return reply.code(201).send(started);
  });

  serve(app, routes.get, async (request) => instances.get(await caller(request, accounts), vmId(request.params.id)));

  serve(app, routes.kill, async (request) => instances.kill(await caller(request, accounts), vmId(request.params.id)));

  serve(app, routes.shutdown, async (request) => instances.shutdown(await caller(request, accounts), vmId(request.params.id)));

  serve(app, routes.console, async (request, reply) =>
    reply.type('text/plain; charset=utf-8').send(await instances.consoleLog(await caller(request, accounts), vmId(request.params.id))));

  serve(app, routes.context, async (request) => instances.context(await caller(request, accounts), vmId(request.params.id)));

  serve(app, routes.volumes, async (request) => instances.volumes(await caller(request, accounts), vmId(request.params.id)));

  serve(app, routes.attach, async (request, reply) => {
    const actor = await caller(request, accounts);
    const { uuid } = request.body as { uuid: string };
    return reply.code(201).send(await instances.attach(actor, vmId(request.params.id), uuid));
  });

  serve(app, routes.saveLayer, async (request, reply) => {
    const actor = await caller(request, accounts);
    const { key } = request.body as { key: string };
    return reply.code(201).send(await instances.saveLayer(actor, vmId(request.params.id), key));
  });

  serve(app, routes.layer, async (request) => instances.layer(await caller(request, accounts), request.params.key));

  serve(app, routes.deleteLayer, async (request, reply) => {
    await instances.deleteLayer(await caller(request, accounts), request.params.key);
    return reply.code(204).send();
  });

  serve(app, routes.detach, async (request) => instances.detach(await caller(request, accounts), vmId(request.params.id), request.params.uuid));
}

function vmId(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new StratusError('INSTANCE_NOT_FOUND', `VM ${text} does not exist`, { hint: 'A vm ID is a whole number, as stratus-run-instance printed it.' });
  return Number(text);
}

/** The body of POST /instances, checked field by field so a mistake names its field. */
function runRequest(body: unknown): RunInstancesRequest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new StratusError('USAGE', 'POST /instances takes a JSON object (see docs/api.md)');
  const b = body as Record<string, unknown>;
  const str = (k: string): string | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new StratusError('USAGE', `field ${k} must be a string`);
    return v;
  };
  const int = (k: string): number | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new StratusError('USAGE', `field ${k} must be a whole number`);
    return v;
  };
  const image = str('image');
  if (!image) throw new StratusError('USAGE', 'field image is required: a Marketplace ID, a pdisk volume UUID or a URL');
  const cpu = int('cpu');
  const ramMiB = int('ramMiB');
  if (cpu === undefined || ramMiB === undefined) throw new StratusError('USAGE', 'fields cpu and ramMiB are required (the instance type\'s figures)');
  const keys = b.sshKeys;
  if (keys !== undefined && (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string'))) throw new StratusError('USAGE', 'field sshKeys must be a list of strings');
  const context = b.context;
  if (context !== undefined && (typeof context !== 'object' || context === null || Array.isArray(context) || Object.values(context).some((v) => typeof v !== 'string'))) {
    throw new StratusError('USAGE', 'field context must be an object of strings');
  }
  const method = str('contextMethod');
  if (method !== undefined && method !== 'one' && method !== 'cloud-init') throw new StratusError('USAGE', `field contextMethod must be one or cloud-init, not ${method}`);
  const volatile = int('volatileDiskGiB');
  const bus = str('diskBus');
  if (bus !== undefined && bus !== 'ide' && bus !== 'scsi' && bus !== 'virtio') throw new StratusError('USAGE', `field diskBus must be ide, scsi or virtio, not ${bus}`);
  const format = str('diskFormat');
  if (format !== undefined && format !== 'raw' && format !== 'qcow2') throw new StratusError('USAGE', `field diskFormat must be raw or qcow2, not ${format}`);
  const model = str('networkModel');
  const save = b.save;
  if (save !== undefined && (typeof save !== 'object' || save === null || Array.isArray(save))) throw new StratusError('USAGE', 'field save must be an object (see docs/api.md)');
  const booted = b.booted;
  if (booted !== undefined && typeof booted !== 'boolean') throw new StratusError('USAGE', 'field booted must be true or false');
  const opt = <T>(k: string, v: T | undefined): Record<string, T> => (v === undefined ? {} : { [k]: v });
  return {
    image, cpu, ramMiB, ...opt('swapMiB', int('swapMiB')), ...opt('count', int('count')), ...opt('type', str('type')), ...opt('name', str('name')),
    ...opt('sshKeys', keys as string[] | undefined), ...opt('userData', str('userData')), ...opt('contextMethod', method as RunInstancesRequest['contextMethod']),
    ...opt('context', context as Record<string, string> | undefined), ...opt('diskBus', bus as RunInstancesRequest['diskBus']), ...opt('networkModel', model === undefined ? undefined : networkModelOf(model, 'field networkModel')),
    ...opt('persistentDisk', str('persistentDisk')), ...opt('readonlyDisk', str('readonlyDisk')), ...opt('volatileDiskGiB', volatile),
    ...opt('diskFormat', format as RunInstancesRequest['diskFormat']),
    ...opt('vncPort', int('vncPort')), ...opt('vncListen', str('vncListen')), ...opt('layer', str('layer')), ...opt('booted', booted as boolean | undefined),
    ...opt('save', save === undefined ? undefined : checkSaveRequest(save, {
      author: 'field save.author', authorEmail: 'field save.authorEmail', title: 'field save.title', comment: 'field save.comment',
      imageVersion: 'field save.imageVersion', marketplace: 'field save.marketplace',
    }, 'With save, please provide ')),
  };
}
