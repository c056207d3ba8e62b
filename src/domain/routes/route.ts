/**
 * What a route of the HTTP API is, as plain data: the server registers it (api/serve.ts), the
 * clients build their paths from it (pathOf), and /openapi.json is generated from it. JSON
 * Schemas are draft-07 objects, as fastify's Ajv reads them.
 */
import { errorCatalogue } from '../errors.js';
import type { ErrorCode } from '../errors.js';

/** A JSON Schema (draft-07) as plain data. */
export type JsonSchema = { readonly [keyword: string]: unknown };

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/**
 * Who may call a route: anyone (`public`); anyone, but credentials that are sent must be
 * right (`optional`); an account (`account`). The handler checks it; here it documents it
 * and brings the answers authentication can give (401, 429, 503).
 */
export type Access = 'public' | 'optional' | 'account';

export interface ResponseSpec {
  readonly description: string;
  /** Schemas by media type: JSON Schemas for JSON, `text()` for XML, HTML and plain text. */
  readonly content?: { readonly [mediaType: string]: JsonSchema };
}

export interface RouteSpec<P extends string = string> {
  /** Stable name (`resource.action`): the document's operationId, and what tests and clients refer to. */
  readonly name: string;
  readonly method: HttpMethod;
  /** Path template in fastify's syntax: `/pswd/disks/:uuid`. */
  readonly path: P;
  /** Other paths served the same way (pdisk's `/disks` next to `/pswd/disks`); left out of the document. */
  readonly aliases?: readonly string[];
  /** The resource it belongs to: the document's tag. */
  readonly resource: string;
  readonly summary: string;
  readonly description?: string;
  readonly access: Access;
  readonly params?: JsonSchema;
  readonly querystring?: JsonSchema;
  /** Bodies the server parses and validates, by media type: JSON and urlencoded forms only. */
  readonly body?: { readonly [mediaType: string]: JsonSchema };
  /**
   * Bodies the handler reads itself (signed XML, multipart forms, streamed images), by media
   * type: documented, never validated (a schema would make fastify buffer or reject them).
   */
  readonly rawBody?: { readonly [mediaType: string]: JsonSchema };
  /** A request must carry one of the bodies above (otherwise a body is optional). */
  readonly bodyRequired?: boolean;
  /** Answers by status, the error answers included. */
  readonly responses: { readonly [status: number]: ResponseSpec };
}

/** What a table file writes: the route without its error answers, and the statuses of those. */
export interface RouteInput<P extends string> extends Omit<RouteSpec<P>, 'responses'> {
  readonly responses: { readonly [status: number]: ResponseSpec };
  /** Error statuses particular to this route (those every route of its kind can give are added). */
  readonly errors?: readonly number[];
}

/**
 * A table entry: the route with its error answers. Statuses that any route of its kind can
 * give are added here, so the document does not depend on each file remembering them: 400 for
 * a schema a request can fail; 401, 429 and 503 where credentials are checked; 403
 * (cross-site), 413 and 415 (the body) on methods that change state; 500 everywhere.
 */
export function defineRoute<const P extends string>(input: RouteInput<P>): RouteSpec<P> {
  const { errors = [], ...spec } = input;
  const statuses = new Set<number>([...errors, 500]);
  if (spec.params || spec.querystring || spec.body) statuses.add(400);
  if (spec.access !== 'public') [401, 429, 503].forEach((s) => statuses.add(s));
  if (spec.method !== 'GET') [403, 413, 415].forEach((s) => statuses.add(s));
  const responses: Record<number, ResponseSpec> = { ...spec.responses };
  for (const status of [...statuses].sort((a, b) => a - b)) responses[status] ??= errorResponse(status);
  return { ...spec, responses };
}

/** A string body of some media type (XML, HTML, plain text). */
export function text(description: string): JsonSchema {
  return { type: 'string', description };
}

/** Bytes (an image). */
export function binary(description: string): JsonSchema {
  return { type: 'string', format: 'binary', description };
}

/** A JSON object with exactly these properties, all of them required unless listed in `optional`. */
export function object(properties: Record<string, JsonSchema>, optional: readonly string[] = []): JsonSchema {
  return { type: 'object', properties, required: Object.keys(properties).filter((k) => !optional.includes(k)), additionalProperties: false };
}

export function arrayOf(items: JsonSchema): JsonSchema {
  return { type: 'array', items };
}

/** The path parameters of a template, every one a string. */
export function pathParams(descriptions: Record<string, string>): JsonSchema {
  const properties = Object.fromEntries(Object.entries(descriptions).map(([k, d]) => [k, { type: 'string', description: d }]));
  return { type: 'object', properties, required: Object.keys(descriptions) };
}

/** Error codes answered with `status`. */
export function codesWithStatus(status: number): ErrorCode[] {
  return (Object.keys(errorCatalogue) as ErrorCode[]).filter((c) => errorCatalogue[c].status === status);
}

/**
 * The error answer of api/errors.ts, in whichever form the client asked for (`?media=`, then
 * Accept; plain text by default). Its JSON form is `{"<status>": message, code, hint}`, plus
 * `requestId` for INTERNAL; the code is also in the X-Stratus-Error header.
 */
export function errorResponse(status: number): ResponseSpec {
  const codes = codesWithStatus(status);
  const json = {
    type: 'object',
    properties: {
      [String(status)]: { type: 'string', description: 'what went wrong, and where' },
      code: { type: 'string', enum: codes, description: 'the stable error code (docs/errors.md); also in the X-Stratus-Error header' },
      hint: { type: 'string', description: 'how to fix it' },
      requestId: { type: 'string', description: 'INTERNAL only: the id the server log files the detail under' },
    },
    required: [String(status), 'code', 'hint'],
    additionalProperties: false,
  };
  return {
    description: `Error: ${codes.join(', ') || 'see docs/errors.md'}`,
    content: {
      'application/json': json,
      'application/xml': text('<error>message</error>'),
      'text/html': text('an error page'),
      'text/plain': text('the message, then a line "hint: …"'),
    },
  };
}
