/** Accounts (/users): who may call what is in docs/api.md. */
import { arrayOf, defineRoute, object, pathParams } from './route.js';
import type { JsonSchema } from './route.js';

const JSON_TYPE = 'application/json';

/** A quota: a whole number, or null / "none" / "unlimited" / "" for no limit (checked by the accounts service). */
const quota: JsonSchema = { type: ['integer', 'string', 'null'], description: "a whole number ≥ 0, or null, 'none' or 'unlimited' for no limit" };

export const userInfo = object({
  username: { type: 'string' },
  admin: { type: 'boolean' },
  quotaGib: { type: ['integer', 'null'], description: 'GiB of volumes; null: unlimited' },
  quotaVolumes: { type: ['integer', 'null'], description: 'number of volumes; null: unlimited' },
  created: { type: 'string' },
});

const name = pathParams({ name: 'the account name' });

export const userRoutes = {
  me: defineRoute({
    name: 'users.me', method: 'GET', path: '/users/me', resource: 'users', access: 'account',
    summary: 'The calling account',
    responses: { 200: { description: 'who you are', content: { [JSON_TYPE]: object({ username: { type: 'string' }, admin: { type: 'boolean' } }) } } },
  }),
  list: defineRoute({
    name: 'users.list', method: 'GET', path: '/users', resource: 'users', access: 'account',
    summary: 'Every account with its quotas (admin)',
    errors: [403],
    responses: { 200: { description: 'the accounts', content: { [JSON_TYPE]: arrayOf(userInfo) } } },
  }),
  add: defineRoute({
    name: 'users.add', method: 'POST', path: '/users', resource: 'users', access: 'account',
    summary: 'Create an account (admin)',
    body: {
      [JSON_TYPE]: object({
        username: { type: 'string' },
        password: { type: 'string' },
        admin: { type: 'boolean' },
        quotaGib: quota,
        quotaVolumes: quota,
      }, ['admin', 'quotaGib', 'quotaVolumes']),
    },
    errors: [409],
    responses: { 201: { description: 'the new account', content: { [JSON_TYPE]: userInfo } } },
  }),
  password: defineRoute({
    name: 'users.password', method: 'PUT', path: '/users/:name/password', resource: 'users', access: 'account',
    summary: "Change an account's password (admin, or the account itself)",
    params: name,
    body: { [JSON_TYPE]: object({ password: { type: 'string' } }) },
    errors: [404],
    responses: { 200: { description: 'changed', content: { [JSON_TYPE]: object({ username: { type: 'string' }, password: { type: 'string', enum: ['changed'] } }) } } },
  }),
  quota: defineRoute({
    name: 'users.quota', method: 'PUT', path: '/users/:name/quota', resource: 'users', access: 'account',
    summary: "Set an account's volume quotas (admin); a key left out keeps its value",
    params: name,
    body: { [JSON_TYPE]: object({ gib: quota, volumes: quota }, ['gib', 'volumes']) },
    errors: [404],
    responses: { 200: { description: 'the account', content: { [JSON_TYPE]: userInfo } } },
  }),
  remove: defineRoute({
    name: 'users.remove', method: 'DELETE', path: '/users/:name', resource: 'users', access: 'account',
    summary: 'Remove an account (admin); refused while it owns volumes or mounts unless force=true hands them to admin',
    params: name,
    querystring: { type: 'object', properties: { force: { type: 'string', description: 'true or false (default)' } } },
    errors: [404, 409],
    responses: {
      200: {
        description: 'removed',
        content: {
          [JSON_TYPE]: object({
            username: { type: 'string' },
            removed: { type: 'boolean', enum: [true] },
            heir: { type: 'string', description: 'the account that now owns what it had' },
            handedOver: { type: 'object', additionalProperties: { type: 'integer' }, description: 'what was handed over, by kind: {volumes, mounts}' },
          }),
        },
      },
    },
  }),
};
