/**
 * The persistent disk service (reference §7.2), served at /pswd/disks (StratusLab's password
 * context) and, the same, at /disks; the collection is /pswd/disks/ as StratusLab spelt it
 * (the slash is optional). Values are checked by the volume service, in StratusLab's words
 * (VOLUME_INVALID), so the schemas here only fix the shapes.
 */
import { VOLUME_TYPES } from '../volume.js';
import { arrayOf, binary, defineRoute, object, pathParams } from './route.js';
import type { JsonSchema, RouteInput, RouteSpec } from './route.js';

const JSON_TYPE = 'application/json';
const FORM = 'application/x-www-form-urlencoded';
const GZIP = 'application/x-gzip';

export const volumeInfo = object({
  uuid: { type: 'string' },
  tag: { type: 'string' },
  count: { type: 'integer', description: 'snapshots of an origin; mounts of anything else' },
  owner: { type: 'string' },
  identifier: { type: 'string', description: 'the Marketplace identifier of the content, or snapshot:<origin>' },
  size: { type: 'integer', description: 'GiB' },
  type: { type: 'string', enum: [...VOLUME_TYPES] },
  visibility: { type: 'string', enum: ['PRIVATE', 'PUBLIC'] },
  quarantine: { type: 'string' },
  created: { type: 'string' },
  bytes: { type: 'integer' },
  format: { type: 'string', enum: ['raw', 'qcow2'] },
  origin: { type: ['string', 'null'], description: 'the origin of a snapshot' },
});

export const mountInfo = object({
  id: { type: 'string', description: '<volume uuid>_<vm id>' },
  volume: { type: 'string' },
  vmId: { type: 'string' },
  node: { type: 'string' },
  target: { type: 'string', description: 'the device it is attached as: vdz, vdy, …' },
  created: { type: 'string' },
  owner: { type: 'string', description: 'the account that made the mount' },
  readOnly: { type: 'boolean', description: 'true unless the volume’s owner made it' },
});

/** One mount as StratusLab's mount resources showed it. */
const mountView = object({ diskId: { type: 'string' }, mountId: { type: 'string' }, vmId: { type: 'string' }, target: { type: 'string' } });

const text: JsonSchema = { type: 'string' };
/** tag, visibility and type, as JSON, a form, or the query of a streamed upload. */
const fieldProps = {
  tag: { type: 'string', description: 'at most 40 characters' },
  visibility: { type: 'string', description: 'private or public (any case)' },
  type: { type: 'string', description: VOLUME_TYPES.join(', ') },
};
const fields = { type: 'object', properties: fieldProps, additionalProperties: false };
const createFields = { type: 'object', properties: { size: { type: ['integer', 'string'], description: 'GiB, 1-1024' }, ...fieldProps }, additionalProperties: false };
const mountFields = {
  type: 'object',
  properties: {
    node: text,
    vm_id: { type: ['string', 'integer'], description: 'the machine it is attached to' },
    vmId: { type: ['string', 'integer'], description: 'vm_id, as our client spells it' },
    register_only: { type: ['boolean', 'string'], description: 'true: only record the mount' },
  },
  additionalProperties: false,
};

const uuid = pathParams({ uuid: 'the volume' });
const mount = pathParams({ uuid: 'the volume', mount: 'the mount: <volume uuid>_<vm id>' });

/** Every pdisk route at /pswd/disks…, also served at /disks…. */
function pdisk<const P extends string>(input: Omit<RouteInput<P>, 'resource' | 'aliases'>): RouteSpec<P> {
  return defineRoute({ ...input, resource: 'volumes', aliases: [input.path.replace(/^\/pswd/, '')] });
}

const created = (description: string): { 201: { description: string; content: { [JSON_TYPE]: JsonSchema } } } => ({ 201: { description, content: { [JSON_TYPE]: volumeInfo } } });

/** A POST that makes a volume from another (snapshot, rebase): no fields, 201 with the new volume. */
function newVolume<const P extends string>(name: string, path: P, summary: string, made: string, alsoTypes: readonly string[] = []): RouteSpec<P> {
  const body = Object.fromEntries([JSON_TYPE, ...alsoTypes].map((t) => [t, { type: 'object' }]));
  return pdisk({ name, method: 'POST', path, access: 'account', summary, params: uuid, body, errors: [404, 409, 507], responses: created(made) });
}

export const pdiskRoutes = {
  list: pdisk({
    name: 'volumes.list', method: 'GET', path: '/pswd/disks/', access: 'account',
    summary: "The caller's volumes and every PUBLIC one (admin: all), newest first",
    responses: { 200: { description: 'volumes', content: { [JSON_TYPE]: arrayOf(volumeInfo) } } },
  }),
  create: pdisk({
    name: 'volumes.create', method: 'POST', path: '/pswd/disks/', access: 'account',
    summary: 'A new volume: empty (JSON or form with size), or an image streamed as gzip or raw bytes (tag, visibility and type in the query)',
    querystring: fields,
    body: { [JSON_TYPE]: createFields, [FORM]: createFields },
    rawBody: {
      'application/gzip': binary('a gzipped image, inflated as it streams'),
      [GZIP]: binary('the same'),
      'application/octet-stream': binary('a raw image'),
      'multipart/form-data': { type: 'object', properties: { 'Image File': binary('the gzipped image (the first file part)'), ...fieldProps } },
    },
    errors: [409, 507],
    responses: created('the volume; Location names it'),
  }),
  get: pdisk({
    name: 'volumes.get', method: 'GET', path: '/pswd/disks/:uuid', access: 'optional',
    summary: 'A volume as JSON, or its gzipped image (Accept: application/x-gzip or ?media=gzip, with Range); a PUBLIC one needs no account',
    params: uuid,
    querystring: { type: 'object', properties: { media: { type: 'string', description: 'gzip: the image' } } },
    errors: [404],
    responses: {
      200: { description: 'the volume, or its whole image', content: { [JSON_TYPE]: volumeInfo, [GZIP]: binary('the gzipped image') } },
      206: { description: 'a range of the gzipped image', content: { [GZIP]: binary('bytes of the gzipped image') } },
      416: { description: 'the range is outside the image (Content-Range: bytes */<size>)' },
    },
  }),
  update: pdisk({
    name: 'volumes.update', method: 'PUT', path: '/pswd/disks/:uuid', access: 'account',
    summary: 'Change tag, visibility or type (owner or admin)',
    params: uuid,
    body: { [JSON_TYPE]: fields, [FORM]: fields },
    errors: [404, 409],
    responses: { 200: { description: 'the volume', content: { [JSON_TYPE]: volumeInfo } } },
  }),
  // StratusLab's clients post a form (or nothing) here; the named routes below take JSON.
  copy: newVolume('volumes.copy', '/pswd/disks/:uuid', "StratusLab's copy: snapshot a MACHINE_IMAGE_ORIGIN, or rebase a MACHINE_IMAGE_LIVE", 'the new volume', [FORM]),
  snapshot: newVolume('volumes.snapshot', '/pswd/disks/:uuid/snapshot', 'A copy-on-write snapshot (MACHINE_IMAGE_LIVE) of a MACHINE_IMAGE_ORIGIN', 'the snapshot'),
  rebase: newVolume('volumes.rebase', '/pswd/disks/:uuid/rebase', 'A standalone MACHINE_IMAGE_ORIGIN from a snapshot, identified by its content', 'the rebased volume'),
  delete: pdisk({
    name: 'volumes.delete', method: 'DELETE', path: '/pswd/disks/:uuid', access: 'account',
    summary: 'Delete a volume (owner or admin)',
    params: uuid,
    errors: [404, 409],
    responses: { 200: { description: 'deleted', content: { [JSON_TYPE]: object({ uuid: { type: 'string' } }) } } },
  }),
  mounts: pdisk({
    name: 'mounts.list', method: 'GET', path: '/pswd/disks/:uuid/mounts', access: 'account',
    summary: "A volume's mounts: all of them to its owner and the admin, the caller's own to anyone else",
    params: uuid,
    errors: [404],
    responses: { 200: { description: 'mounts', content: { [JSON_TYPE]: arrayOf(mountInfo) } } },
  }),
  mount: pdisk({
    name: 'mounts.create', method: 'POST', path: '/pswd/disks/:uuid/mounts', access: 'account',
    summary: 'Record a mount: the volume attached to a machine (targets from vdz down)',
    params: uuid,
    body: { [JSON_TYPE]: mountFields, [FORM]: mountFields },
    errors: [404, 409],
    responses: {
      201: {
        description: 'the mount, with StratusLab’s vm_id and uuid',
        content: {
          [JSON_TYPE]: {
            ...mountInfo,
            properties: { ...(mountInfo.properties as object), vm_id: { type: 'string' }, uuid: arrayOf({ type: 'string' }) },
            required: [...(mountInfo.required as string[]), 'vm_id', 'uuid'],
          },
        },
      },
    },
  }),
  mountGet: pdisk({
    name: 'mounts.get', method: 'GET', path: '/pswd/disks/:uuid/mounts/:mount', access: 'account',
    summary: 'One mount (the account that made it, the volume’s owner or the admin)',
    params: mount,
    errors: [404],
    responses: { 200: { description: 'the mount', content: { [JSON_TYPE]: mountView } } },
  }),
  unmount: pdisk({
    name: 'mounts.delete', method: 'DELETE', path: '/pswd/disks/:uuid/mounts/:mount', access: 'account',
    summary: 'End a mount',
    params: mount,
    errors: [404],
    responses: { 200: { description: 'the mount that ended', content: { [JSON_TYPE]: mountView } } },
  }),
};
