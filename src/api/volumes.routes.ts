import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { StratusError } from '../domain/errors.js';
import type { VolumeFields } from '../volumes/service.js';
import type { AccountsApi, VolumesApi } from './services.js';
import { caller, optionalCaller } from './auth.js';
import type { MountInfo } from '../domain/volume.js';
import { baseUrl, contentType } from './negotiate.js';
import { formParts } from './multipart.js';
import { pdiskRoutes } from '../domain/routes/index.js';
import { serve } from './serve.js';

const GZIP_TYPES = ['application/gzip', 'application/x-gzip'];

/**
 * The persistent disk service (reference §7.2), at /pswd/disks (StratusLab's password
 * context) and /disks. Reading one volume (its JSON or its gzipped image) needs no account
 * when it is PUBLIC, as the Marketplace that points at it needs none; every other route
 * needs one. Rights are the service's.
 */
export function volumeRoutes(app: FastifyInstance, volumes: VolumesApi, accounts: AccountsApi): void {
  // Image uploads stream straight through: never buffered, never size-limited here.
  app.addContentTypeParser([...GZIP_TYPES, 'application/octet-stream'], (_req, payload, done) => done(null, payload));
  const routes = pdiskRoutes;
  // The Location of a new volume keeps the prefix it was created under (/pswd/disks or /disks).
  const prefixOf = (request: FastifyRequest): string => (request.routeOptions.url ?? '').startsWith('/pswd') ? '/pswd/disks' : '/disks';

  serve(app, routes.list, async (request) => volumes.list(await caller(request, accounts)));

  serve(app, routes.create, async (request, reply) => {
    const actor = await caller(request, accounts);
    const type = contentType(request);
    let info;
    if (request.isMultipart()) {
      info = await multipartUpload(request, actor, volumes);
    } else if (GZIP_TYPES.includes(type) || type === 'application/octet-stream') {
      info = await volumes.upload(actor, request.body as Readable, { ...fieldsOf(request.query), gzipped: type !== 'application/octet-stream' });
    } else {
      const body = (request.body ?? {}) as Record<string, unknown>;
      info = await volumes.create(actor, { ...fieldsOf(body), size: body.size });
    }
    return reply.code(201).header('Location', `${baseUrl(request)}${prefixOf(request)}/${info.uuid}`).send(info);
  });

  serve(app, routes.get, async (request, reply) => {
    const actor = await optionalCaller(request, accounts);
    if (wantsGzip(request)) return sendGzip(request, reply, await volumes.download(actor, request.params.uuid), request.params.uuid);
    return volumes.get(actor, request.params.uuid);
  });

  serve(app, routes.update, async (request) =>
    volumes.update(await caller(request, accounts), request.params.uuid, fieldsOf((request.body ?? {}) as Record<string, unknown>)));

  // StratusLab's empty POST: snapshot an origin, or rebase a snapshot.
  serve(app, routes.copy, async (request, reply) =>
    reply.code(201).send(await volumes.copy(await caller(request, accounts), request.params.uuid)));
  serve(app, routes.snapshot, async (request, reply) =>
    reply.code(201).send(await volumes.snapshot(await caller(request, accounts), request.params.uuid)));
  serve(app, routes.rebase, async (request, reply) =>
    reply.code(201).send(await volumes.rebase(await caller(request, accounts), request.params.uuid)));

  serve(app, routes.delete, async (request) =>
    ({ uuid: await volumes.delete(await caller(request, accounts), request.params.uuid) }));

  serve(app, routes.mounts, async (request) =>
    volumes.mounts(await caller(request, accounts), request.params.uuid));
  serve(app, routes.mount, async (request, reply) => {
    const body = (request.body ?? {}) as Record<string, unknown>;
    const m = await volumes.mount(await caller(request, accounts), request.params.uuid, {
      node: String(body.node ?? ''), vmId: String(body.vm_id ?? body.vmId ?? ''), registerOnly: body.register_only === 'true' || body.register_only === true,
    });
    return reply.code(201).send({ ...m, vm_id: m.vmId, uuid: [m.volume] });
  });
  serve(app, routes.mountGet, async (request) => {
    const all = await volumes.mounts(await caller(request, accounts), request.params.uuid);
    const m = all.find((x) => x.id === request.params.mount);
    if (!m) throw new StratusError('VOLUME_NOT_FOUND', `no mount ${request.params.mount}`);
    return mountView(m);
  });
  serve(app, routes.unmount, async (request) => {
    return mountView(await volumes.unmount(await caller(request, accounts), request.params.uuid, request.params.mount));
  });
}

async function multipartUpload(request: FastifyRequest, actor: Awaited<ReturnType<typeof caller>>, volumes: VolumesApi): ReturnType<VolumesApi['upload']> {
  const fields: Record<string, unknown> = {};
  for await (const part of formParts(request, { fileSize: Number.MAX_SAFE_INTEGER, files: 1 })) {
    if (part.type === 'field') {
      fields[part.fieldname] = part.value;
      continue;
    }
    const gzipped = !/octet-stream/.test(part.mimetype) || /\.gz$/.test(part.filename);
    return volumes.upload(actor, part.file, { ...fieldsOf(fields), gzipped });
  }
  throw new StratusError('USAGE', 'the form has no file part', { hint: "Send the gzipped image as the form's file part (StratusLab's 'Image File')." });
}

function fieldsOf(body: unknown): VolumeFields {
  const b = (body ?? {}) as Record<string, unknown>;
  const f: VolumeFields = {};
  if (typeof b.tag === 'string') f.tag = b.tag;
  if (typeof b.visibility === 'string') f.visibility = b.visibility;
  if (typeof b.type === 'string') f.type = b.type;
  return f;
}

/** One mount as StratusLab's mount resources showed it. */
function mountView(m: MountInfo): { diskId: string; mountId: string; vmId: string; target: string } {
  return { diskId: m.volume, mountId: m.id, vmId: m.vmId, target: m.target };
}

function wantsGzip(request: FastifyRequest): boolean {
  const media = (request.query as Record<string, unknown>).media;
  if (media === 'gzip') return true;
  return /application\/(x-)?gzip/.test(request.headers.accept ?? '');
}

/** Serves the gzipped image with single-range support, so interrupted downloads resume. */
function sendGzip(request: FastifyRequest, reply: FastifyReply, file: Awaited<ReturnType<VolumesApi['download']>>, uuid: string): FastifyReply {
  const etag = `"${uuid}-${file.size}"`;
  reply.header('Accept-Ranges', 'bytes').header('ETag', etag).type('application/x-gzip')
    .header('Content-Disposition', `attachment; filename=${uuid}.img.gz`);
  const range = /^bytes=(\d*)-(\d*)$/.exec(request.headers.range ?? '');
  const ifRange = request.headers['if-range'];
  if (!range || (ifRange !== undefined && ifRange !== etag)) {
    return reply.header('Content-Length', String(file.size)).send(file.open());
  }
  let start = range[1] === '' ? file.size - Number(range[2]) : Number(range[1]);
  let end = range[1] === '' || range[2] === '' ? file.size - 1 : Number(range[2]);
  start = Math.max(0, start);
  end = Math.min(end, file.size - 1);
  if (start > end || start >= file.size) {
    return reply.code(416).header('Content-Range', `bytes */${file.size}`).send();
  }
  return reply.code(206).header('Content-Range', `bytes ${start}-${end}/${file.size}`).header('Content-Length', String(end - start + 1)).send(file.open(start, end));
}
