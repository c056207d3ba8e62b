import type { FastifyInstance } from 'fastify';
import { StratusError } from '../domain/errors.js';
import type { AccountsApi } from './services.js';
import { caller } from './auth.js';
import { userRoutes as routes } from '../domain/routes/index.js';
import { serve } from './serve.js';

/**
 * /users: account management. Who may call what: listing, adding, removing accounts and
 * setting quotas is for admins; changing a password is for admins or the account itself;
 * /users/me is for anyone signed in.
 */
export function userRoutes(app: FastifyInstance, accounts: AccountsApi): void {
  serve(app, routes.me, async (request) => {
    const me = await caller(request, accounts);
    return { username: me.username, admin: me.admin };
  });
  serve(app, routes.list, async (request) => accounts.list(await caller(request, accounts)));
  serve(app, routes.add, async (request, reply) => {
    const b = (request.body ?? {}) as Record<string, unknown>;
    const info = await accounts.add(await caller(request, accounts), {
      username: str(b.username, 'username'), password: str(b.password, 'password'), admin: b.admin === true || b.admin === 'true',
      quotaGib: optInt(b.quotaGib), quotaVolumes: optInt(b.quotaVolumes),
    });
    return reply.code(201).send(info);
  });
  serve(app, routes.password, async (request) => {
    const b = (request.body ?? {}) as Record<string, unknown>;
    await accounts.passwd(await caller(request, accounts), request.params.name, str(b.password, 'password'));
    return { username: request.params.name, password: 'changed' };
  });
  serve(app, routes.quota, async (request) => {
    const b = (request.body ?? {}) as Record<string, unknown>;
    const q: { gib?: number | null; volumes?: number | null } = {};
    if ('gib' in b) q.gib = optInt(b.gib);
    if ('volumes' in b) q.volumes = optInt(b.volumes);
    return accounts.setQuota(await caller(request, accounts), request.params.name, q);
  });
  // Refused while the account owns anything; ?force=true hands it all to the admin.
  serve(app, routes.remove, async (request) => {
    const force = request.query.force;
    if (force !== undefined && force !== 'true' && force !== 'false') throw new StratusError('USAGE', `force must be true or false, not '${force}'`);
    const { heir, handedOver } = await accounts.remove(await caller(request, accounts), request.params.name, { force: force === 'true' });
    return { username: request.params.name, removed: true, heir, handedOver };
  });
}

function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v === '') throw new StratusError('USAGE', `${name} is required`);
  return v;
}

/** A whole number, or null for "unlimited" (null, '', 'none', 'unlimited'). */
function optInt(v: unknown): number | null {
  if (v === undefined || v === null || v === '' || v === 'none' || v === 'unlimited') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new StratusError('USAGE', `quota must be a whole number ≥ 0 or 'none', not ${String(v)}`);
  return n;
}
