import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { documentRoute } from '../domain/routes/index.js';
import type { RouteSpec } from '../domain/routes/index.js';
import { VERSION } from '../domain/version.js';
import { serve } from './serve.js';

const BASIC = 'basic';

/**
 * Makes @fastify/swagger collect the routes registered after this (it hooks onRoute), so it
 * must run before any route is added. The document is OpenAPI 3.1, whose schemas are JSON
 * Schema, so the table's schemas appear as they are.
 */
export async function describeRoutes(app: FastifyInstance): Promise<void> {
  const specs = new Map<string, RouteSpec>();
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Stratus',
        version: VERSION,
        description: 'The Marketplace, the persistent disk service (pdisk) and accounts of a Stratus server. Prose, limits and compatibility notes: docs/api.md.',
      },
      components: { securitySchemes: { [BASIC]: { type: 'http', scheme: 'basic' } } },
    },
    transform: ({ schema, url, route }) => {
      const spec = route.config?.route;
      if (spec) specs.set(spec.name, spec);
      return { schema: spec && schema ? documented(spec, schema as Record<string, unknown>) : schema, url };
    },
    // @fastify/swagger marks every request body required; most routes here take none as well.
    transformObject: (doc) => {
      if (!('openapiObject' in doc)) return doc.swaggerObject;
      const openapiObject = doc.openapiObject;
      for (const item of Object.values(openapiObject.paths ?? {})) {
        for (const op of Object.values(item ?? {}) as Array<{ operationId?: string; requestBody?: { required?: boolean } }>) {
          const spec = specs.get(op.operationId ?? '');
          if (spec && op.requestBody) op.requestBody.required = spec.bodyRequired === true;
        }
      }
      return openapiObject;
    },
  });
}

/** GET /openapi.json: the document, built once from the routes registered by then. */
export function serveDocument(app: FastifyInstance): void {
  serve(app, documentRoute, async (_request, reply) => reply.type('application/json; charset=utf-8').send(app.swagger()));
}

/**
 * What the document says beyond what fastify validates: the bodies a handler reads itself
 * (documented, never validated), whether a body is required, and who may call.
 */
function documented(spec: RouteSpec, schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...schema };
  if (spec.rawBody) {
    const validated = (schema.body as { content?: Record<string, unknown> } | undefined)?.content ?? {};
    const raw = Object.fromEntries(Object.entries(spec.rawBody).map(([type, s]) => [type, { schema: s }]));
    out.body = { content: { ...validated, ...raw } };
  }
  if (spec.access === 'account') out.security = [{ [BASIC]: [] }];
  if (spec.access === 'optional') out.security = [{}, { [BASIC]: [] }];
  return out;
}
