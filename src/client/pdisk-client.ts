import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { StratusError, errorCatalogue } from '../domain/errors.js';
import type { ErrorCode } from '../domain/errors.js';
import type { MountInfo, VolumeInfo } from '../domain/volume.js';
import type { UserInfo } from '../domain/wire.js';
import { errorBody } from './error-body.js';
import { pathOf, pdiskRoutes as pdisk, userRoutes as users } from '../domain/routes/index.js';

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Typed client of the persistent disk service (/pswd/disks) and the account routes
 * (/users). HTTP Basic on every call; errors come back as StratusErrors with the server's
 * code, message and hint.
 */
export class PdiskClient {
  readonly endpoint: string;

  constructor(endpoint: string, private readonly credentials?: Credentials) {
    this.endpoint = endpoint.replace(/\/+$/, '').replace(/\/pswd$/, '');
  }

  /** The URL of a volume, as upload-image prints it. */
  volumeUrl(uuid: string): string {
    return this.endpoint + pathOf(pdisk.get, { uuid });
  }

  list(): Promise<VolumeInfo[]> {
    return this.json('GET', pathOf(pdisk.list, {}));
  }

  get(uuid: string): Promise<VolumeInfo> {
    return this.json('GET', pathOf(pdisk.get, { uuid }));
  }

  create(req: { size: number; tag?: string; visibility?: string; type?: string }): Promise<VolumeInfo> {
    return this.json('POST', pathOf(pdisk.create, {}), req);
  }

  update(uuid: string, fields: { tag?: string; visibility?: string; type?: string }): Promise<VolumeInfo> {
    return this.json('PUT', pathOf(pdisk.update, { uuid }), fields);
  }

  async delete(uuid: string): Promise<string> {
    return (await this.json<{ uuid: string }>('DELETE', pathOf(pdisk.delete, { uuid }))).uuid;
  }

  snapshot(uuid: string): Promise<VolumeInfo> {
    return this.json('POST', pathOf(pdisk.snapshot, { uuid }), {});
  }

  rebase(uuid: string): Promise<VolumeInfo> {
    return this.json('POST', pathOf(pdisk.rebase, { uuid }), {});
  }

  mounts(uuid: string): Promise<MountInfo[]> {
    return this.json('GET', pathOf(pdisk.mounts, { uuid }));
  }

  mount(uuid: string, node: string, vmId: string): Promise<MountInfo> {
    return this.json('POST', pathOf(pdisk.mount, { uuid }), { node, vm_id: vmId });
  }

  unmount(uuid: string, vmId: string): Promise<unknown> {
    return this.json('DELETE', pathOf(pdisk.unmount, { uuid, mount: `${uuid}_${vmId}` }));
  }

  /**
   * Streams an image into a new volume: `gzipped` bytes are inflated by the server, which
   * computes the identifier in the same pass. `size` (bytes of the body) lets the server and
   * the progress bar know the length.
   */
  async upload(body: Readable, opts: { gzipped: boolean; size?: number; tag?: string; visibility?: string; type?: string }): Promise<VolumeInfo> {
    const res = await this.raw('POST', pathOf(pdisk.create, {}, { tag: opts.tag, visibility: opts.visibility, type: opts.type }), {
      'content-type': opts.gzipped ? 'application/gzip' : 'application/octet-stream',
      ...(opts.size !== undefined ? { 'content-length': String(opts.size) } : {}),
    }, body);
    return this.parse<VolumeInfo>(res);
  }

  /** Starts a download of a volume's gzipped content, from `start` when resuming. */
  download(uuid: string, start = 0, ifRange?: string): Promise<IncomingMessage> {
    return this.raw('GET', pathOf(pdisk.get, { uuid }), {
      accept: 'application/x-gzip',
      ...(start > 0 ? { range: `bytes=${start}-` } : {}),
      ...(start > 0 && ifRange ? { 'if-range': ifRange } : {}),
    });
  }

  me(): Promise<{ username: string; admin: boolean }> {
    return this.json('GET', pathOf(users.me, {}));
  }

  users(): Promise<UserInfo[]> {
    return this.json('GET', pathOf(users.list, {}));
  }

  addUser(u: { username: string; password: string; admin?: boolean; quotaGib?: number | null; quotaVolumes?: number | null }): Promise<UserInfo> {
    return this.json('POST', pathOf(users.add, {}), u);
  }

  passwd(username: string, password: string): Promise<unknown> {
    return this.json('PUT', pathOf(users.password, { name: username }), { password });
  }

  setQuota(username: string, quota: { gib?: number | null; volumes?: number | null }): Promise<UserInfo> {
    return this.json('PUT', pathOf(users.quota, { name: username }), quota);
  }

  /** Removes an account; `force` hands what it owns to the admin instead of refusing. */
  removeUser(username: string, opts: { force?: boolean } = {}): Promise<{ username: string; heir: string; handedOver: Record<string, number> }> {
    return this.json('DELETE', pathOf(users.remove, { name: username }, { force: opts.force ? 'true' : undefined }));
  }

  protected async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const res = await this.raw(method, path, payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}, payload);
    return this.parse<T>(res);
  }

  private async parse<T>(res: IncomingMessage): Promise<T> {
    if ((res.statusCode ?? 0) >= 400) throw await responseError(res, this.endpoint);
    const text = await readText(res);
    return (text ? JSON.parse(text) : {}) as T;
  }

  protected raw(method: string, path: string, headers: Record<string, string>, body?: Buffer | Readable, retried = false): Promise<IncomingMessage> {
    const url = new URL(this.endpoint + path);
    const auth = this.credentials ? { authorization: 'Basic ' + Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64') } : {};
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, { method, headers: { accept: 'application/json', ...auth, ...headers } }, (res) => {
        if (body !== undefined && !Buffer.isBuffer(body) && (res.statusCode ?? 0) >= 400 && !req.writableFinished) {
          // Refused before the upload finished (401, quota, disk full): stop sending, and drop
          // the connection once the answer is read, or it lingers until keep-alive times out.
          body.unpipe(req);
          body.destroy();
          res.once('end', () => req.destroy());
        }
        resolve(res);
      });
      req.on('error', (e: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed just as this request went out: nothing was
        // processed, so a request that can be sent again is sent once more, on a new connection.
        if (req.reusedSocket && e.code === 'ECONNRESET' && !retried && IDEMPOTENT.has(method) && (body === undefined || Buffer.isBuffer(body))) {
          this.raw(method, path, headers, body, true).then(resolve, reject);
          return;
        }
        reject(new StratusError('MARKETPLACE_UNREACHABLE', `cannot reach the disk service at ${this.endpoint}: ${e.code ?? e.message} (${method} ${path})`, {
          hint: 'Check --pdisk-endpoint (or STRATUSLAB_PDISK_ENDPOINT / pdisk_endpoint in the config) and that the server runs.',
        }));
      });
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
  }
}

/** Methods a server may receive twice without a different outcome (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE']);

/** The server's error answer `res` (status ≥ 400) as a StratusError, reading (and consuming) its body. */
export async function responseError(res: IncomingMessage, endpoint: string): Promise<StratusError> {
  return toError(res, await readText(res), endpoint);
}

function readText(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => { s += d; });
    res.on('end', () => resolve(s));
    res.on('error', reject);
  });
}

/** The server's error as a StratusError: its code (X-Stratus-Error), message and hint. */
function toError(res: IncomingMessage, text: string, endpoint: string): StratusError {
  const header = res.headers['x-stratus-error'];
  const code = (typeof header === 'string' && Object.hasOwn(errorCatalogue, header) ? header : 'MARKETPLACE_ERROR') as ErrorCode;
  const parsed = errorBody(text, res.statusCode ?? 0);
  const message = parsed.message || `${res.statusCode} ${res.statusMessage ?? ''}`.trim();
  let hint = parsed.hint;
  if (code === 'AUTH_REQUIRED') hint = `Check the username and password for ${endpoint} (-u/-p, STRATUSLAB_USERNAME/STRATUSLAB_PASSWORD or the config file).`;
  return new StratusError(code, message, hint ? { hint } : {});
}
