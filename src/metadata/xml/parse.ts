import { DOMParser } from '@xmldom/xmldom';
import type { Document } from '@xmldom/xmldom';
import { StratusError } from '../../domain/errors.js';
import { DEFAULT_MAX_XML_DEPTH, checkDepth, checkTreeDepth } from './depth.js';

/** Metadata entries are a few KiB; 1 MiB leaves room for huge descriptions and nothing more. */
export const DEFAULT_MAX_XML_BYTES = 1024 * 1024;

export interface ParseOptions {
  /** Refuse inputs longer than this many bytes (default 1 MiB). */
  maxBytes?: number;
  /** Refuse elements nested deeper than this (default 64). */
  maxDepth?: number;
  /** Names the input in error messages (a file path or "request body"). */
  source?: string;
}

/**
 * Parses untrusted XML safely: size limit first, strict UTF-8, no DOCTYPE at all (so no
 * external entities and no entity expansion), a nesting depth limit, and every parser error or
 * warning about malformed input is fatal. The result is a namespace-aware DOM.
 */
export function parseXml(input: Buffer | Uint8Array | string, options: ParseOptions = {}): Document {
  const source = options.source ?? 'document';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_XML_BYTES;
  const text = decodeUtf8(input, source, maxBytes);
  rejectDoctype(text, source);
  rejectForeignEncoding(text, source);
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_XML_DEPTH;
  const scanned = checkDepth(text, source, maxDepth);
  let firstError: string | undefined;
  const parser = new DOMParser({
    onError: (level: string, message: string) => {
      // xmldom reports recoverable problems as 'error'; for signed documents a repaired parse
      // would be a different document, so every report other than a warning is fatal.
      if (level !== 'warning') {
        firstError ??= message;
        throw new Error(message);
      }
    },
  });
  let doc: Document;
  try {
    doc = parser.parseFromString(text, 'text/xml');
  } catch (e) {
    const msg = firstError ?? (e instanceof Error ? e.message : String(e));
    throw new StratusError('XML_MALFORMED', `unable to parse ${source}: ${cleanMessage(msg)}`);
  }
  if (!doc.documentElement) throw new StratusError('XML_MALFORMED', `unable to parse ${source}: no root element`);
  if (!scanned) checkTreeDepth(doc, source, maxDepth);
  return doc;
}

function decodeUtf8(input: Buffer | Uint8Array | string, source: string, maxBytes: number): string {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > maxBytes) {
    throw new StratusError('XML_TOO_LARGE', `${source} is ${size} bytes, over the limit of ${maxBytes} bytes`);
  }
  if (size === 0) throw new StratusError('XML_MALFORMED', `unable to parse ${source}: it is empty`);
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      const at = firstInvalidUtf8(input);
      throw new StratusError('XML_NOT_UTF8', `${source} is not valid UTF-8 (first bad byte at offset ${at})`);
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes('\u0000')) throw new StratusError('XML_MALFORMED', `unable to parse ${source}: it contains NUL characters, so it is not text`);
  return text;
}

/** Offset where the first malformed UTF-8 sequence starts, for the error message. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > bytes.length) return i;
    for (let k = 1; k < len; k++) if (((bytes[i + k] as number) & 0xc0) !== 0x80) return i;
    // Overlong three/four-byte forms, surrogates and code points above U+10FFFF.
    const b1 = bytes[i + 1] as number;
    if ((b === 0xe0 && b1 < 0xa0) || (b === 0xed && b1 > 0x9f) || (b === 0xf0 && b1 < 0x90) || (b === 0xf4 && b1 > 0x8f)) return i;
    i += len;
  }
  return bytes.length;
}

/** A DOCTYPE may only stand in the prolog, so scanning the prolog is enough to refuse DTDs. */
function rejectDoctype(text: string, source: string): void {
  let i = 0;
  for (;;) {
    const lt = text.indexOf('<', i);
    if (lt < 0) return;
    if (text.startsWith('<?', lt)) {
      const end = text.indexOf('?>', lt + 2);
      if (end < 0) return;
      i = end + 2;
    } else if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) return;
      i = end + 3;
    } else if (/^<!DOCTYPE/i.test(text.slice(lt, lt + 9))) {
      throw new StratusError('XML_DTD_FORBIDDEN', `${source} has a DOCTYPE declaration; DTDs and entity declarations are not accepted`);
    } else {
      return;
    }
  }
}

function rejectForeignEncoding(text: string, source: string): void {
  const decl = /^\s*<\?xml[^?]*encoding\s*=\s*["']([^"']+)["']/.exec(text);
  if (decl && !/^utf-?8$/i.test(decl[1] ?? '')) {
    throw new StratusError('XML_NOT_UTF8', `${source} declares encoding "${decl[1]}"; only UTF-8 is accepted`);
  }
}

function cleanMessage(msg: string): string {
  return msg.replace(/\s+/g, ' ').replace(/^\[xmldom [a-zA-Z]+\]\s*/, '').trim();
}
