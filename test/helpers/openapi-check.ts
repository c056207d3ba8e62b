/**
 * Checks real answers of a server against the OpenAPI document it serves: the status must be
 * one the operation lists, the media type one that status lists, and a JSON body must match
 * that media type's schema (Ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses). Every call is
 * recorded by route name, so a test can tell which routes of the table it never called.
 */
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { pathOf, routeTable } from '../../src/domain/routes/index.js';
import type { Query, RouteSpec } from '../../src/domain/routes/index.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

interface MediaObject { schema?: object }
interface ResponseObject { description: string; content?: Record<string, MediaObject> }
interface Operation { operationId?: string; responses: Record<string, ResponseObject> }
export type OpenApiDocument = { openapi: string; paths: Record<string, Record<string, Operation>> };

export interface Answer {
  status: number;
  headers: Headers;
  type: string;
  text: string;
  body: Buffer;
  json(): unknown;
}

export interface CallOptions {
  params?: Record<string, string>;
  query?: Query;
  /** A path to call instead of the route's own (an alias). */
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer | FormData | Blob;
  /** JSON body: sets Content-Type. */
  json?: unknown;
  /** Urlencoded form body: sets Content-Type. */
  form?: Record<string, string>;
  auth?: { username: string; password: string };
}

export class DocumentChecker {
  readonly exercised = new Set<string>();
  private readonly ajv = addFormats(new Ajv2020({ allErrors: true, strict: true }));
  private readonly validators = new Map<object, ValidateFunction>();
  readonly operations = new Map<string, { path: string; method: string; op: Operation }>();

  constructor(readonly base: string, readonly doc: OpenApiDocument) {
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (op.operationId) this.operations.set(op.operationId, { path, method: method.toUpperCase(), op });
      }
    }
  }

  /** Calls `route` for real and checks the answer against the document; returns the answer. */
  async call(route: RouteSpec, options: CallOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.auth) headers.authorization = 'Basic ' + Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64');
    let body: string | FormData | Blob | undefined = Buffer.isBuffer(options.body) ? new Blob([new Uint8Array(options.body)]) : options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const path = options.path ?? pathOf(route, options.params ?? {}, options.query);
    const res = await fetch(this.base + path, { method: route.method, headers, ...(body !== undefined ? { body } : {}) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    const answer: Answer = {
      status: res.status,
      headers: res.headers,
      type: (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '',
      text,
      body: bytes,
      json: () => JSON.parse(text) as unknown,
    };
    this.check(route, answer, `${route.method} ${path}`);
    this.exercised.add(route.name);
    return answer;
  }

  /** The answer matches what the document says of `route`. */
  check(route: RouteSpec, answer: Answer, what: string): void {
    const found = this.operations.get(route.name);
    assert.ok(found, `${route.name} is not in /openapi.json`);
    const { op } = found;
    const response = op.responses[String(answer.status)];
    assert.ok(response, `${what}: status ${answer.status} is not documented for ${route.name} (documented: ${Object.keys(op.responses).join(', ')}): ${answer.text.slice(0, 300)}`);
    if (!response.content) {
      assert.equal(answer.body.length, 0, `${what}: ${answer.status} is documented without a body`);
      return;
    }
    const media = response.content[answer.type];
    assert.ok(media, `${what}: ${answer.status} ${answer.type || '(no content type)'} is not documented (documented: ${Object.keys(response.content).join(', ')})`);
    if (answer.type === 'application/json') {
      assert.ok(media.schema, `${what}: no schema for JSON`);
      const validate = this.validator(media.schema);
      const value = answer.json();
      assert.ok(validate(value), `${what}: the ${answer.status} JSON answer does not match the document: ${this.ajv.errorsText(validate.errors)}\n${answer.text.slice(0, 500)}`);
      if (answer.status >= 400) assert.equal(answer.headers.get('x-stratus-error'), (value as { code?: string }).code, `${what}: X-Stratus-Error is the body's code`);
    }
  }

  /** Table entries never called. */
  missing(): string[] {
    return routeTable.map((r) => r.name).filter((n) => !this.exercised.has(n));
  }

  private validator(schema: object): ValidateFunction {
    let v = this.validators.get(schema);
    if (!v) {
      v = this.ajv.compile(schema);
      this.validators.set(schema, v);
    }
    return v;
  }
}
