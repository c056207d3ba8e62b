/**
 * The route table: every route of the HTTP API, declared once. The server registers each entry
 * (api/serve.ts: fastify validates requests against its schemas), /openapi.json is generated
 * from the registered entries, the clients build their paths with pathOf, and
 * test/integration/openapi.test.ts calls every entry and checks each answer against the
 * document.
 *
 * Adding a route: add an entry to its resource's file here (defineRoute: name, method, path,
 * access, schemas, responses), register its handler with `serve(app, <entry>, handler)` in
 * the resource's api/*.routes.ts, and call it in openapi.test.ts (the test fails while an
 * entry of the table is never called). Adding a resource: a new file here exporting its
 * entries as an object, spread into `routeTable` below.
 */
import { defineRoute } from './route.js';
import type { RouteSpec } from './route.js';
import { marketplaceRoutes } from './marketplace.js';
import { pdiskRoutes } from './pdisk.js';
import { userRoutes } from './users.js';
import { instanceRoutes } from './instances.js';
import { actionRoutes } from './actions.js';

export type { JsonSchema, ResponseSpec, RouteSpec, HttpMethod, Access } from './route.js';
export { marketplaceRoutes, pdiskRoutes, userRoutes, instanceRoutes, actionRoutes };

/** The OpenAPI 3 document of the routes below, generated from this table. */
export const documentRoute = defineRoute({
  name: 'openapi.document', method: 'GET', path: '/openapi.json', resource: 'api', access: 'public',
  summary: 'This document: the OpenAPI description of every route, generated from the route table',
  responses: { 200: { description: 'the document', content: { 'application/json': { type: 'object', properties: { openapi: { type: 'string' }, info: { type: 'object' }, paths: { type: 'object' } }, required: ['openapi', 'info', 'paths'] } } } },
});

/** Every route, by resource. */
export const routeTable: readonly RouteSpec[] = [
  documentRoute,
  ...Object.values(marketplaceRoutes),
  ...Object.values(actionRoutes),
  ...Object.values(pdiskRoutes),
  ...Object.values(userRoutes),
  ...Object.values(instanceRoutes),
];

/** The names of a template's parameters: `/a/:x/b/:y` gives 'x' | 'y'. */
export type PathParams<P extends string> =
  P extends `${string}:${infer Name}/${infer Rest}` ? Name | PathParams<`/${Rest}`>
    : P extends `${string}:${infer Name}` ? Name : never;

/** A query: undefined and empty values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/**
 * The path of `route` with its parameters filled in (each encodeURIComponent'd), and the query
 * when one is given: `pathOf(pdiskRoutes.get, { uuid })` is `/pswd/disks/<uuid>`.
 */
export function pathOf<P extends string>(route: RouteSpec<P>, params: Record<PathParams<P>, string>, query: Query = {}): string {
  const values = params as Record<string, string>;
  const path = route.path.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`pathOf(${route.name}): no value for :${name}`);
    return encodeURIComponent(value);
  });
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') qs.set(k, String(v));
  const search = qs.toString();
  return search ? `${path}?${search}` : path;
}
