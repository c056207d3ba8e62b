/** The cloud service (/instances): who may call what is in docs/api.md. */
import { INSTANCE_STATES } from '../instance.js';
import { NETWORK_MODELS } from '../instance-wire.js';
import { arrayOf, defineRoute, object, pathParams, text } from './route.js';
import type { JsonSchema } from './route.js';

const JSON_TYPE = 'application/json';
const nullable = (type: string): JsonSchema => ({ type: [type, 'null'] });

export const instanceInfo = object({
  id: { type: 'integer' },
  name: { type: 'string' },
  owner: { type: 'string' },
  state: { type: 'string', enum: [...INSTANCE_STATES] },
  message: { ...nullable('string'), description: 'why it failed or went Unknown' },
  image: { type: 'string', description: 'what was asked for: a Marketplace ID, a pdisk UUID or a URL' },
  disk: { ...nullable('string'), description: 'the pdisk volume it boots from' },
  type: { type: 'string' },
  cpu: { type: 'integer' },
  ramMiB: { type: 'integer' },
  swapMiB: { type: 'integer' },
  address: { ...nullable('string'), description: 'its Public ip' },
  memoryKiB: { type: 'integer', description: "QEMU's resident memory while it runs" },
  cpuPercent: { type: 'integer', description: 'CPU use since it started, in % of one CPU' },
  vnc: {
    ...object({
      address: { type: 'string', description: 'the address its VNC server listens on' },
      port: { type: 'integer' },
      password: { type: 'string', description: 'the VNC password: shown to the instance’s owner only' },
    }, ['password']),
    type: ['object', 'null'],
    description: 'its VNC server while QEMU runs it (VNC authentication), else null',
  },
  created: { type: 'string' },
  updated: { type: 'string' },
});

/** Checked field by field by the handler (its messages name the field); the schema documents it. */
const runRequest: JsonSchema = {
  type: 'object',
  properties: {
    image: { type: 'string', description: 'a Marketplace ID, a pdisk volume UUID, the URL of a Marketplace entry or pdisk volume, or a plain http(s) URL the server fetches' },
    diskFormat: { type: 'string', enum: ['raw', 'qcow2'], description: 'a plain URL’s image format (--qcow-disk-format: qcow2; default raw); ignored for the other forms' },
    cpu: { type: 'integer', minimum: 1 },
    ramMiB: { type: 'integer', minimum: 16 },
    swapMiB: { type: 'integer', minimum: 0 },
    count: { type: 'integer', minimum: 1, maximum: 20 },
    type: { type: 'string' },
    name: { type: 'string' },
    sshKeys: arrayOf({ type: 'string' }),
    userData: { type: 'string', description: 'cloud-init user-data, base64' },
    contextMethod: { type: 'string', enum: ['one', 'cloud-init'] },
    context: { type: 'object', additionalProperties: { type: 'string' } },
    diskBus: { type: 'string', enum: ['ide', 'scsi', 'virtio'] },
    networkModel: { type: 'string', enum: [...NETWORK_MODELS], description: 'the network card (--vm-network-model), virtio by default' },
    persistentDisk: { type: 'string', description: 'a pdisk volume attached to each VM from the start (--persistent-disk)' },
    readonlyDisk: { type: 'string', description: 'a Marketplace ID attached read-only through the image cache (--readonly-disk)' },
    volatileDiskGiB: { type: 'integer', minimum: 1, maximum: 1024, description: 'an empty disk of this many GiB, removed with the VM (--volatile-disk)' },
    vncPort: { type: 'integer', minimum: -1, maximum: 65535, description: 'the VNC port (--vnc-port): -1, the default, lets the cloud pick a free one of its range' },
    vncListen: { type: 'string', description: 'the VNC listen address (--vnc-listen): loopback (127.0.0.1) unless the administrator allows more' },
    save: {
      ...object({
        author: { type: 'string', description: 'the new image’s dcterms:creator (--author)' },
        authorEmail: { type: 'string', description: 'where the new image’s identifier is mailed (--author-email)' },
        title: { type: 'string', description: 'the new image’s title, and its volume’s tag (--title)' },
        comment: { type: 'string', description: 'the new image’s description (--comment)' },
        imageVersion: { type: 'string', description: 'the new image’s version (--image-version)' },
        marketplace: { type: 'string', description: 'the Marketplace the draft entry goes to (--marketplace-endpoint-newimage)' },
      }, ['marketplace']),
      description: '--save: at shutdown, the root disk becomes a new image (reference §2.4). Only for a disk the cloud makes (a Marketplace ID, a URL, an origin volume)',
    },
    layer: { type: 'string', description: 'the key of one of the caller’s cached layers (POST /instances/{id}/layers): each VM’s disk starts as that layer instead of the bare image, which must be the one the layer was made over' },
  },
  required: ['image', 'cpu', 'ramMiB'],
  additionalProperties: false,
};

const id = pathParams({ id: 'the vm ID' });
const layerKey = pathParams({ key: 'the layer key: 64 lowercase hexadecimal digits' });

const keyField = { type: 'string', description: 'the layer key: 64 lowercase hexadecimal digits (stratus-create-image uses a SHA-256 of the base image and the step)' };
export const layerSaved = object({ key: keyField, bytes: { type: 'integer', description: 'the size of the layer file' } });
export const layerInfo = object({ key: keyField, bytes: { type: 'integer', description: 'the size of the layer file' }, created: { type: 'string', description: 'when it was saved' } });
const attachment = pathParams({ id: 'the vm ID', uuid: 'the volume' });

export const volumeAttachment = object({
  volume: { type: 'string', description: 'the volume UUID' },
  vmId: { type: 'integer' },
  target: { type: 'string', description: 'the device pdisk records, vdz down: StratusLab’s /dev/<target>. The guest names its disks in order; the serial finds it' },
  readOnly: { type: 'boolean', description: 'true unless the VM’s owner owns the volume and its type is writable (DATA_IMAGE_RAW_READ_WRITE, DATA_IMAGE_LIVE)' },
  serial: { type: 'string', description: 'the serial the guest reads: the first 20 characters of the UUID (/sys/block/vdX/serial, /dev/disk/by-id/virtio-<serial>)' },
  created: { type: 'string', description: 'when it was attached (empty for a disk whose record had been ended)' },
});

export const instanceRoutes = {
  list: defineRoute({
    name: 'instances.list', method: 'GET', path: '/instances', resource: 'instances', access: 'account',
    summary: "The caller's instances (admin: all), Done ones left out",
    responses: { 200: { description: 'the instances', content: { [JSON_TYPE]: arrayOf(instanceInfo) } } },
  }),
  run: defineRoute({
    name: 'instances.run', method: 'POST', path: '/instances', resource: 'instances', access: 'account',
    summary: 'Start one or more VMs of one image',
    rawBody: { [JSON_TYPE]: runRequest },
    bodyRequired: true,
    errors: [400, 404, 409, 502, 507],
    responses: { 201: { description: 'the instances, Running', content: { [JSON_TYPE]: arrayOf(instanceInfo) } } },
  }),
  get: defineRoute({
    name: 'instances.get', method: 'GET', path: '/instances/:id', resource: 'instances', access: 'account',
    summary: 'One instance', params: id, errors: [404],
    responses: { 200: { description: 'the instance', content: { [JSON_TYPE]: instanceInfo } } },
  }),
  kill: defineRoute({
    name: 'instances.kill', method: 'DELETE', path: '/instances/:id', resource: 'instances', access: 'account',
    summary: 'Kill (finalize): end it at once; its changes are lost', params: id, errors: [404],
    responses: { 200: { description: 'the instance, Done', content: { [JSON_TYPE]: instanceInfo } } },
  }),
  shutdown: defineRoute({
    name: 'instances.shutdown', method: 'POST', path: '/instances/:id/shutdown', resource: 'instances', access: 'account',
    summary: 'ACPI power button, then Epilog', params: id, errors: [404, 409],
    responses: { 200: { description: 'the instance, Done (or Failed when the guest ignored the button)', content: { [JSON_TYPE]: instanceInfo } } },
  }),
  console: defineRoute({
    name: 'instances.console', method: 'GET', path: '/instances/:id/console', resource: 'instances', access: 'account',
    summary: 'The serial console so far (the last 256 KiB)', params: id, errors: [404],
    responses: { 200: { description: 'the console', content: { 'text/plain': text('serial console output') } } },
  }),
  context: defineRoute({
    name: 'instances.context', method: 'GET', path: '/instances/:id/context', resource: 'instances', access: 'account',
    summary: 'The context the instance was given', params: id, errors: [404],
    responses: { 200: { description: 'its method and KEY=value pairs', content: { [JSON_TYPE]: object({ method: { type: 'string' }, context: { type: 'object', additionalProperties: { type: 'string' } } }) } } },
  }),
  volumes: defineRoute({
    name: 'instances.volumes', method: 'GET', path: '/instances/:id/volumes', resource: 'instances', access: 'account',
    summary: 'The volumes attached to the instance (recorded as pdisk mounts on its vm ID)', params: id, errors: [404],
    responses: { 200: { description: 'its attachments', content: { [JSON_TYPE]: arrayOf(volumeAttachment) } } },
  }),
  attach: defineRoute({
    name: 'instances.attach', method: 'POST', path: '/instances/:id/volumes', resource: 'instances', access: 'account',
    summary: 'Hot-plug a volume into the running instance (stratus-attach-volume): the owner’s own volume, or a PUBLIC one read-only',
    params: id,
    body: { [JSON_TYPE]: object({ uuid: { type: 'string', description: 'the volume' } }) },
    bodyRequired: true,
    errors: [404, 409],
    responses: { 201: { description: 'the attachment', content: { [JSON_TYPE]: volumeAttachment } } },
  }),
  saveLayer: defineRoute({
    name: 'instances.saveLayer', method: 'POST', path: '/instances/:id/layers', resource: 'instances', access: 'account',
    summary: 'Freeze the running instance’s root disk as the caller’s cached layer of that key (after sync in the guest); a layer of the same key is replaced',
    params: id,
    body: { [JSON_TYPE]: object({ key: keyField }) },
    bodyRequired: true,
    errors: [404, 409, 507],
    responses: { 201: { description: 'the layer kept', content: { [JSON_TYPE]: layerSaved } } },
  }),
  layer: defineRoute({
    name: 'instances.layer', method: 'GET', path: '/instances/layers/:key', resource: 'instances', access: 'account',
    summary: 'One of the caller’s cached layers (HEAD: whether there is one); other accounts’ layers do not exist',
    params: layerKey, errors: [404],
    responses: { 200: { description: 'the layer', content: { [JSON_TYPE]: layerInfo } } },
  }),
  deleteLayer: defineRoute({
    name: 'instances.deleteLayer', method: 'DELETE', path: '/instances/layers/:key', resource: 'instances', access: 'account',
    summary: 'Remove one of the caller’s cached layers (refused while a live instance started from it runs)',
    params: layerKey, errors: [404, 409],
    responses: { 204: { description: 'removed' } },
  }),
  detach: defineRoute({
    name: 'instances.detach', method: 'DELETE', path: '/instances/:id/volumes/:uuid', resource: 'instances', access: 'account',
    summary: 'Unplug a volume from the instance (stratus-detach-volume) and end its record', params: attachment, errors: [404, 409],
    responses: { 200: { description: 'the attachment that ended', content: { [JSON_TYPE]: volumeAttachment } } },
  }),
};
