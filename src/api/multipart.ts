import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { Multipart } from '@fastify/multipart';
import { StratusError } from '../domain/errors.js';

type Limits = NonNullable<Parameters<FastifyRequest['parts']>[0]>['limits'];

/** One part of a form: a field, or a file whose stream reports parser errors as MULTIPART_MALFORMED. */
export type FormPart =
  | { type: 'field'; fieldname: string; value: unknown }
  | { type: 'file'; fieldname: string; filename: string; mimetype: string; file: Readable };

/**
 * The parts of a multipart/form-data body. The parser's own complaints (no boundary, a
 * boundary that never comes, a body cut short) are plain Errors that would answer 500; here
 * they are the client's fault, MULTIPART_MALFORMED (400), also when they surface inside a file
 * part that a handler is reading.
 */
export async function* formParts(request: FastifyRequest, limits: Limits): AsyncGenerator<FormPart> {
  checkBoundary(request.headers['content-type'] ?? '');
  let parts: AsyncIterableIterator<Multipart>;
  try {
    parts = request.parts({ limits });
  } catch (e) {
    throw malformed(e);
  }
  try {
    for await (const part of parts) {
      if (part.type === 'file') {
        const safe = new PassThrough();
        part.file.on('error', (e) => safe.destroy(malformed(e)));
        part.file.pipe(safe);
        yield { type: 'file', fieldname: part.fieldname, filename: part.filename, mimetype: part.mimetype, file: safe };
      } else {
        yield { type: 'field', fieldname: part.fieldname, value: part.value };
      }
    }
  } catch (e) {
    throw malformed(e);
  }
}

/** A parser error as MULTIPART_MALFORMED; our own errors and Fastify's coded ones pass through. */
export function malformed(e: unknown): Error {
  if (e instanceof StratusError) return e;
  const err = e as Error & { code?: string };
  if (typeof err.code === 'string') return err;
  return new StratusError('MULTIPART_MALFORMED', `malformed multipart/form-data body: ${err.message}`);
}

/** RFC 2046: 1-70 characters. The parser takes an empty one and then finds no parts at all. */
function checkBoundary(contentType: string): void {
  const m = /;\s*boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(contentType);
  const boundary = m ? (m[1] ?? m[2] ?? '') : '';
  if (boundary.length < 1 || boundary.length > 70) {
    throw new StratusError('MULTIPART_MALFORMED', `malformed multipart/form-data body: ${m ? `a boundary of ${boundary.length} characters (1-70 allowed)` : 'no boundary in its Content-Type'}`);
  }
}
