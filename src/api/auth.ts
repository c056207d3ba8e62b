import type { FastifyRequest } from 'fastify';
import { StratusError } from '../domain/errors.js';
import type { AccountsApi } from './services.js';
import type { Principal } from '../accounts/accounts.js';
import type { LoginGuard } from './login-guard.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Limits password guessing for every route that authenticates (see LoginGuard). */
    loginGuard?: LoginGuard;
  }
}

/** The user:password of an HTTP Basic Authorization header, if there is one. */
function basicCredentials(request: FastifyRequest): { username: string; password: string } | undefined {
  const h = request.headers.authorization;
  if (!h || !/^Basic\s+/i.test(h)) return undefined;
  const decoded = Buffer.from(h.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return undefined;
  return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

/**
 * The caller of a route that needs an account. Missing and wrong credentials both answer
 * 401 "authentication required"/"invalid credentials" and nothing more.
 */
export async function caller(request: FastifyRequest, accounts: AccountsApi): Promise<Principal> {
  const creds = basicCredentials(request);
  if (!creds) throw new StratusError('AUTH_REQUIRED', 'authentication required');
  const check = (): Promise<Principal> => accounts.authenticate(creds.username, creds.password);
  const guard = request.server.loginGuard;
  return guard ? guard.authenticate(request.ip, creds.username, creds.password, check) : check();
}

/**
 * The caller of a route that anyone may use: undefined without an Authorization header
 * (anonymous); credentials that are sent must be right.
 */
export async function optionalCaller(request: FastifyRequest, accounts: AccountsApi): Promise<Principal | undefined> {
  return request.headers.authorization === undefined ? undefined : caller(request, accounts);
}
