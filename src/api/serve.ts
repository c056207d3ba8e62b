import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema, onRequestHookHandler, RouteGenericInterface } from 'fastify';
import type { JsonSchema, RouteSpec } from '../domain/routes/index.js';
import type { PathParams } from '../domain/routes/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The table entry a route was registered from (api/serve.ts). */
    route?: RouteSpec;
  }
}

/** What a handler of `route` gets: its path parameters by name, the query as strings. */
export interface RouteRequest<P extends string> extends RouteGenericInterface {
  Params: Record<PathParams<P>, string>;
  Querystring: Record<string, string | undefined>;
}

export type RouteHandler<P extends string> = (request: FastifyRequest<RouteRequest<P>>, reply: FastifyReply) => Promise<unknown>;

/**
 * Fastify options for the table's schemas: a field may have several types (a quota is a
 * number, a word or null), which Ajv's strict mode would otherwise complain of on stderr at
 * every start.
 */
export const schemaOptions = { ajv: { customOptions: { allowUnionTypes: true } } };

/**
 * JSON answers are written with JSON.stringify, as before the routes had schemas. Fastify
 * would otherwise serialize them with fast-json-stringify from the response schemas, which
 * silently drops any property a schema forgot; the schemas are checked against real answers
 * by test/integration/openapi.test.ts instead.
 */
const stringify = (): ((data: unknown) => string) => (data) => JSON.stringify(data);

/**
 * Registers `handler` for a table entry, at its path and its aliases. Fastify validates the
 * path parameters, the query and the JSON or form body against the entry's schemas; a
 * failure goes through the one error mapper (api/errors.ts) as a 400 USAGE naming the field.
 */
export function serve<P extends string>(app: FastifyInstance, route: RouteSpec<P>, handler: RouteHandler<P>, options: { onRequest?: onRequestHookHandler } = {}): void {
  const schema = fastifySchema(route);
  for (const url of [route.path, ...(route.aliases ?? [])]) {
    app.route<RouteRequest<P>>({
      method: route.method,
      url,
      schema: url === route.path ? schema : { ...schema, hide: true },
      config: { route: route as RouteSpec },
      serializerCompiler: stringify,
      handler,
      ...(options.onRequest ? { onRequest: options.onRequest } : {}),
    });
  }
}

/** The entry as fastify's route schema (which @fastify/swagger reads too). */
function fastifySchema(route: RouteSpec): FastifySchema & Record<string, unknown> {
  const content = (byType: Readonly<Record<string, JsonSchema>>): Record<string, { schema: JsonSchema }> =>
    Object.fromEntries(Object.entries(byType).map(([type, schema]) => [type, { schema }]));
  const response = Object.fromEntries(Object.entries(route.responses).map(([status, r]) =>
    [status, r.content ? { description: r.description, content: content(r.content) } : { description: r.description, type: 'null' }]));
  return {
    operationId: route.name,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.resource],
    ...(route.params ? { params: route.params } : {}),
    ...(route.querystring ? { querystring: route.querystring } : {}),
    ...(route.body ? { body: { content: content(route.body) } } : {}),
    response,
  };
}
