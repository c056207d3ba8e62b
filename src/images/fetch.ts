import { basename, dirname, join } from 'node:path';
import type { Document } from '@xmldom/xmldom';
import { StratusError } from '../domain/errors.js';
import { validateDocument } from '../metadata/validate/validate.js';
import { readEntry, sha1Of } from '../metadata/entry/entry.js';
import type { Entry } from '../metadata/entry/entry.js';
import type { Credentials } from '../client/pdisk-client.js';
import type { PipelineEvents } from './events.js';
import { PartFiles } from './transfer/part.js';
import { httpGet, sourceFor } from './transfer/locations.js';
import type { Source, UrlGuard } from './transfer/locations.js';
import { receive } from './transfer/receive.js';
import type { Expected, Outcome } from './transfer/receive.js';

/** Tries of one location in a run when the connection breaks but bytes keep arriving. */
const NETWORK_TRIES = 3;

export interface FetchRequest {
  /** The signed entries of the image, as the Marketplace gave them (each endorser's latest). */
  docs: Document[];
  /** What was asked for (an identifier or an entry URL), for messages. */
  what: string;
  /** Where the verified image goes; `<output>.part` and a temporary file sit next to it. */
  output: string;
  /** The URL to reach the disk service named by a `pdisk:host:port:uuid` location at. */
  pdiskEndpointFor(endpoint: string): string;
  /** The account for a pdisk server, asked for pdisk locations only; none reads PUBLIC volumes anonymously. */
  credentialsFor(endpoint: string): Promise<Credentials | undefined>;
}

export interface FetchResult {
  identifier: string;
  location: string;
}

/**
 * Fetches an entry's image, verified: only entries whose signature and endorser check out
 * count; their locations are tried in turn (the one a previous run was downloading from
 * first), each download decompressed, checked against the SHA-1 and size of the metadata,
 * written sparse to a temporary file and renamed to `output` only once verified. An
 * interrupted download resumes from `<output>.part` the next time.
 */
export async function fetchImage(req: FetchRequest, events: PipelineEvents): Promise<FetchResult> {
  events.step('Checking metadata');
  const entries = trustedEntries(req.docs, req.what, events);
  const expected = expectedOf(entries[0] as Entry);
  const files = new PartFiles(req.output);
  const locations = orderLocations(entries, files, expected.identifier);
  if (locations.length === 0) throw new StratusError('DOWNLOAD_FAILED', `the metadata of ${expected.identifier} gives no location`);

  events.step('Downloading image');
  const failures: string[] = [];
  const fail = (location: string, reason: string): void => {
    events.warn(`${location}: ${reason}`);
    failures.push(`${location}: ${reason}`);
  };
  for (const location of locations) {
    const source = sourceFor(location, req.pdiskEndpointFor, req.credentialsFor);
    if (typeof source === 'string') {
      fail(location, source);
      continue;
    }
    events.info(`Trying ${location}`);
    const outcome = await receiveResuming(source, files, req.output, expected, events);
    if (outcome.ok) return { identifier: expected.identifier, location };
    fail(location, outcome.reason);
  }
  const kept = files.read(expected.identifier);
  throw new StratusError('DOWNLOAD_FAILED', `no location of ${expected.identifier} gave the image:\n${failures.map((f) => `    ${f}`).join('\n')}`, kept
    ? { hint: `The partial download is kept in ${files.part}; run the same command again to resume it.` }
    : {});
}

export interface UrlFetchRequest {
  /** A plain http(s) URL: no entry, so nothing to verify the content against. */
  url: string;
  output: string;
  /** The most the image may take, decompressed (the raw download gets the compression margin on top). */
  maxBytes: number;
  /** Whose limit that is, for the refusal. */
  limitFrom: string;
  /** Where the fetch may connect, checked on every hop. */
  guard: UrlGuard;
}

/**
 * Fetches a plain URL's image through the same receiver as fetchImage (decompressed when
 * gzip or bzip2, sparse, bounded, a broken connection resumed within the call), for a server
 * fetching on a user's behalf. Nothing is kept on failure: a URL is the user's to give, so
 * partial downloads would pile up unbounded. Returns the SHA-1 and size of what it got.
 */
export async function fetchUrl(req: UrlFetchRequest, events: PipelineEvents): Promise<{ sha1: string; bytes: number }> {
  const files = new PartFiles(req.output);
  files.remove();
  const source = sourceFor(req.url, () => req.url, async () => undefined, req.guard);
  if (typeof source === 'string') throw new StratusError('URL_REFUSED', `${req.url}: ${source}`);
  try {
    const outcome = await receiveResuming(source, files, req.output, { identifier: req.url, bytes: req.maxBytes, limitFrom: req.limitFrom }, events);
    if (outcome.ok) return { sha1: outcome.sha1, bytes: outcome.bytes };
    throw new StratusError(outcome.oversize ? 'VOLUME_TOO_LARGE' : 'DOWNLOAD_FAILED', `cannot fetch ${req.url}: ${outcome.reason}`, {
      hint: outcome.oversize ? `The image is larger than ${req.limitFrom} lets this cloud fetch from a URL; ask the administrator, or publish it in the Marketplace.` : 'Check the URL (it must give the whole disk image) and try again.',
    });
  } finally {
    files.remove();
  }
}

/** The URL a HEAD request ends at after redirects, and its status (StratusLab's client sent one for URL images). */
export async function resolveUrl(url: string): Promise<{ url: string; status: number; statusText: string }> {
  const res = await httpGet(url, {}, { method: 'HEAD' });
  res.resume();
  return { url: res.url, status: res.statusCode ?? 0, statusText: res.statusMessage ?? '' };
}

/** One location, its broken connections resumed up to NETWORK_TRIES times while bytes keep arriving. */
async function receiveResuming(source: Source, files: PartFiles, output: string, expected: Expected, events: PipelineEvents): Promise<Outcome> {
  for (let tries = 1; ; tries++) {
    const outcome = await receive({
      source, files, output, expected,
      temp: join(dirname(output), `.${basename(output)}.download`),
      progress: (total) => events.progress(`downloading ${basename(output)}`, total),
      note: (m) => events.info(m),
    });
    if (outcome.ok || outcome.kind !== 'network' || !outcome.progressed || tries >= NETWORK_TRIES) return outcome;
    events.warn(`${source.location}: ${outcome.reason}; resuming`);
  }
}

/**
 * Entries whose signature verifies and whose endorser block matches the certificate; the
 * signer of each is told. Other validation findings are told but do not stop the download:
 * the content is checked against the SHA-1 anyway.
 */
function trustedEntries(docs: Document[], what: string, events: PipelineEvents): Entry[] {
  const trusted: Entry[] = [];
  const refusals: string[] = [];
  for (const doc of docs) {
    const report = validateDocument(doc);
    const fatal = report.findings.filter((f) => f.check === 'signature' || f.check === 'endorser');
    const entry = readEntry(doc);
    if (fatal.length > 0) {
      refusals.push(fatal.map((f) => f.message).join('; '));
      events.warn(`entry by ${entry.endorsement.email ?? '?'} refused: ${refusals.at(-1) ?? ''}`);
      continue;
    }
    for (const f of report.findings) events.warn(`metadata: ${f.message}`);
    const cert = report.signature?.certificate;
    events.info(`Signed by: ${cert?.subject ?? entry.endorsement.subject ?? '?'} <${cert?.email ?? entry.endorsement.email ?? '?'}>`);
    trusted.push(entry);
  }
  if (trusted.length === 0) {
    throw new StratusError(refusals.every((r) => r === 'no signature') ? 'SIGNATURE_MISSING' : 'SIGNATURE_INVALID',
      `the metadata of ${what} does not verify: ${refusals.join(' | ')}`, { hint: 'Nothing was downloaded. Ask the endorser to re-sign the entry.' });
  }
  return trusted;
}

function expectedOf(entry: Entry): Expected {
  const sha1 = sha1Of(entry);
  if (!sha1) throw new StratusError('METADATA_INVALID', `the metadata of ${entry.identifier} has no single SHA-1 checksum to check the download against`);
  // slreq:bytes bounds what the download may write (the schema requires it; other schema findings are only warnings here).
  if (entry.bytes === undefined) {
    throw new StratusError('METADATA_INVALID', `the metadata of ${entry.identifier} gives no size (slreq:bytes), so the download could not be bounded`, {
      hint: 'Nothing was downloaded. Ask the endorser to publish an entry with slreq:bytes.',
    });
  }
  return { identifier: entry.identifier, sha1, bytes: entry.bytes };
}

/** Every entry's locations, once each; the one a previous run was downloading from comes first. */
function orderLocations(entries: Entry[], files: PartFiles, identifier: string): string[] {
  const all = [...new Set(entries.flatMap((e) => e.locations))];
  const resuming = files.read(identifier)?.location;
  return resuming && all.includes(resuming) ? [resuming, ...all.filter((l) => l !== resuming)] : all;
}
