/**
 * The Marketplace (reference §6): uploads, listings, entries, endorsers, and the web pages
 * over them. No account is needed. Data resources answer XML by default, JSON or HTML when
 * asked (`?media=`, then Accept), so most answers list several media types.
 */
import { ENTRY_FIELDS, isValueField, wireName } from '../entry-fields.js';
import type { EntryFields } from '../entry-fields.js';
import { arrayOf, defineRoute, object, pathParams, text } from './route.js';
import type { JsonSchema, ResponseSpec, RouteSpec } from './route.js';

const JSON_TYPE = 'application/json';
const HTML = 'text/html';

/**
 * The enumerated listing parameters and their values. A listing refuses any other value
 * (StratusLab read an unknown status as "all", which quietly widened it); empty means the default.
 */
export const LISTING_CHOICES = {
  status: ['valid', 'expired', 'deprecated', 'all'],
  location: ['all', 'pdisk', 'web'],
  sort: ['created', 'os', 'os_version', 'os_arch', 'email', 'kind', 'identifier', 'title'],
  order: ['asc', 'desc'],
  sSortDir_0: ['asc', 'desc'],
  media: ['xml', 'json', 'html', 'text'],
} as const;

const LISTING_TEXT: Record<string, string> = {
  identifier: 'exact identifier', email: 'exact endorser e-mail', endorser: 'the same as email', created: 'exact endorsement date; lifts the latest-only rule',
  os: 'exact, any case', 'os-version': 'exact', osversion: 'the same as os-version', 'os-arch': 'exact', arch: 'the same as os-arch', tag: 'exact (dcterms:alternative)',
  q: 'free text: every space-separated term must occur in some field', sSearch: 'DataTables: the same as q',
  offset: 'first entry (whole number)', iDisplayStart: 'DataTables: the same as offset',
  limit: 'entries per page (default 100 JSON, 25 HTML, 1000 XML; at most 10000)', iDisplayLength: 'DataTables: the same as limit',
  iSortCol_0: 'DataTables: sort column number', sEcho: 'DataTables: echoed back',
};

/** Listing parameters (docs/api.md); DataTables sends more, which are ignored. */
export const listingParams: JsonSchema = {
  type: 'object',
  properties: {
    ...Object.fromEntries(Object.entries(LISTING_TEXT).map(([k, description]) => [k, { type: 'string', description }])),
    ...Object.fromEntries(Object.entries(LISTING_CHOICES).map(([k, values]) => [k, { type: 'string', enum: [...values, ''] }])),
  },
};

/** A field of the entry schema as JSON: null where the entry has none, arrays for many-valued fields. */
function fieldSchema(f: EntryFields[number]): JsonSchema {
  const scalar = f.type === 'integer' ? 'integer' : 'string';
  return f.cardinality === 'many' ? arrayOf({ type: scalar }) : { type: [scalar, 'null'] };
}

const listed = ENTRY_FIELDS.filter((f) => isValueField(f) && 'column' in f);
const unlisted = ENTRY_FIELDS.filter((f) => isValueField(f) && !('column' in f));
const keyProps: Record<string, JsonSchema> = {
  identifier: { type: 'string' },
  email: { type: 'string', description: 'the endorser' },
  created: { type: 'string', description: 'the endorsement date' },
  status: { type: 'string', enum: ['valid', 'expired', 'deprecated', 'superseded', 'no-validity'] },
  location: { type: ['string', 'null'], description: 'the first location' },
  subject: { type: ['string', 'null'], description: "the signer's certificate subject" },
  issuer: { type: ['string', 'null'] },
  path: { type: 'string', description: '/metadata/<identifier>/<email>/<created>' },
};

/**
 * One entry in a listing: its key, status and every field of the entry schema that has a
 * column. Open, because a server's schema may have more fields than this build's.
 */
export const entrySummary: JsonSchema = {
  type: 'object',
  properties: { ...keyProps, ...Object.fromEntries(listed.map((f) => [wireName(f), fieldSchema(f)])) },
  required: [...new Set([...Object.keys(keyProps), ...listed.map(wireName)])],
  additionalProperties: true,
};

export const entryDetail: JsonSchema = {
  type: 'object',
  properties: {
    ...(entrySummary.properties as object),
    ...Object.fromEntries(unlisted.map((f) => [wireName(f), fieldSchema(f)])),
    checksums: arrayOf(object({ algorithm: { type: 'string' }, value: { type: 'string' } })),
    extensions: arrayOf({ type: 'string', description: 'an element in another namespace, serialized' }),
    signature: object({
      valid: { type: 'boolean' },
      reason: { type: 'string' },
      algorithm: { type: 'string' },
      signer: object({ subject: { type: 'string' }, issuer: { type: 'string' }, email: { type: 'string' }, notBefore: { type: 'string' }, notAfter: { type: 'string' } }, ['email']),
    }, ['reason', 'algorithm', 'signer']),
  },
  required: [...new Set([...(entrySummary.required as string[]), ...unlisted.map(wireName), 'checksums', 'extensions', 'signature'])],
  additionalProperties: true,
};

/** A page of a listing: StratusLab's DataTables fields, then `entries` and paging for modern clients. */
export const entryListing = object({
  sEcho: { type: 'integer' },
  iTotalRecords: { type: 'integer' },
  iTotalDisplayRecords: { type: 'integer' },
  rMsg: { type: 'string' },
  aaData: arrayOf(arrayOf({ type: 'string' })),
  entries: arrayOf(entrySummary),
  offset: { type: 'integer' },
  limit: { type: 'integer' },
  total: { type: 'integer', description: 'matches; a lower bound when totalExact is false' },
  totalExact: { type: 'boolean' },
});

const endorserSummary = object({ email: { type: 'string' }, subject: { type: ['string', 'null'] }, issuer: { type: ['string', 'null'] } });
/** The JSON answer of a stored upload (and of a confirmed one). */
export const uploaded = object({ status: { type: 'string', enum: ['created', 'exists'] }, path: { type: 'string' }, url: { type: 'string' } });
/** The JSON answer of an upload held for its endorser's confirmation (validate_email). */
const held = object({
  status: { type: 'string', enum: ['pending'] },
  path: { type: 'string', description: '/metadata/<identifier>/<email>/<created>, where the entry will be once confirmed' },
  to: { type: 'string', description: "the signing certificate's e-mail address, which the links went to" },
  expires: { type: 'string', description: 'when the links stop working (ISO 8601 UTC)' },
});

const listingPage: ResponseSpec = {
  description: 'a page of the listing',
  content: {
    'application/xml': text('the stored signed entries in <metadata>…</metadata> (Link rel="next" when entries are left out)'),
    [JSON_TYPE]: entryListing,
    [HTML]: text('the search page'),
  },
};
const oneEntry: ResponseSpec['content'] = {
  'application/rdf+xml': text('the signed entry as stored'),
  [JSON_TYPE]: entryDetail,
  [HTML]: text('the entry page'),
};
const sparql = (description: string): JsonSchema => text(`SPARQL-results XML: ${description}`);
const email = pathParams({ email: "the endorser's e-mail" });
const media: JsonSchema = { type: 'object', properties: { media: { type: 'string', description: 'xml, json or html' } } };

/** A listing route: the listing parameters, a page in XML, JSON or HTML, 404 for an empty XML listing. */
function listing<const P extends string>(name: string, path: P, summary: string, params?: Record<string, string>): RouteSpec<P> {
  return defineRoute({
    name, method: 'GET', path, resource: path === '/' ? 'web' : 'metadata', access: 'optional', summary,
    description: "Anonymous callers see public entries; an account also sees its own drafts, the admin every draft.",
    ...(params ? { params: pathParams(params) } : {}),
    querystring: listingParams,
    errors: [404],
    responses: { 200: listingPage },
  });
}

export const marketplaceRoutes = {
  searchPage: listing('web.search', '/', 'The search page: the listing as HTML (as JSON or XML with ?media=)'),
  uploadPage: defineRoute({
    name: 'web.upload', method: 'GET', path: '/upload', resource: 'web', access: 'public',
    summary: 'The upload form',
    responses: { 200: { description: 'the form', content: { [HTML]: text('the upload page') } } },
  }),
  upload: defineRoute({
    name: 'metadata.upload', method: 'POST', path: '/metadata', resource: 'metadata', access: 'optional',
    summary: 'Upload a signed entry (XML or a multipart form), or run a DataTables listing query (urlencoded form)',
    description: 'No account is needed, but uploads without one are limited per client address (429); credentials that are sent must be right. '
      + 'With `[marketplace] validate_email = true`, an endorser the trust policy does not trust gets a mail with confirmation links and the answer is 202: nothing is stored until the endorser confirms (/action/{uuid}/confirm).',
    rawBody: {
      'application/xml': text('a signed metadata entry'),
      'application/rdf+xml': text('the same'),
      'text/xml': text('the same'),
      'multipart/form-data': { type: 'object', properties: { 'Metadata File': { type: 'string', format: 'binary', description: 'the first part with a file name is the entry' } } },
    },
    body: { 'application/x-www-form-urlencoded': listingParams },
    bodyRequired: true,
    errors: [400, 403, 502],
    responses: {
      202: {
        description: "held until its endorser confirms it: a mail with the confirm, abort and abuse links went to the signing certificate's e-mail address",
        content: { 'text/plain': text('confirmation email sent for new metadata entry'), [JSON_TYPE]: held, [HTML]: text('a page saying where the confirmation went') },
      },
      201: {
        description: 'stored; Location names the entry',
        content: { 'text/plain': text('metadata entry created'), [JSON_TYPE]: uploaded, [HTML]: text('a page linking to the entry') },
      },
      200: {
        description: 'already stored (an identical upload), or the DataTables listing',
        content: { 'text/plain': text('metadata entry already stored'), [JSON_TYPE]: { anyOf: [uploaded, entryListing] }, [HTML]: text('a page linking to the entry') },
      },
    },
  }),
  drafts: defineRoute({
    name: 'metadata.drafts', method: 'POST', path: '/metadata/drafts', resource: 'metadata', access: 'account',
    summary: "Admin only: sign an entry with this server's own identity and store it as a draft of the account `owner`",
    description: 'A draft is seen by its owner and the admin only, until the owner uploads the identifier signed with their own certificate (POST /metadata). Saved instances make drafts the same way.',
    querystring: object({ owner: { type: 'string', minLength: 1, maxLength: 64, description: 'the account the draft belongs to' } }),
    rawBody: {
      'application/xml': text('a metadata entry, unsigned or signed (the service re-signs it)'),
      'application/rdf+xml': text('the same'),
      'text/xml': text('the same'),
    },
    bodyRequired: true,
    errors: [400, 403, 404],
    responses: {
      201: { description: 'stored; Location names the draft', content: { 'text/plain': text('metadata entry created'), [JSON_TYPE]: uploaded, [HTML]: text('a page linking to the draft') } },
      200: { description: 'the very same draft was stored before', content: { 'text/plain': text('metadata entry already stored'), [JSON_TYPE]: uploaded, [HTML]: text('a page linking to the draft') } },
    },
  }),
  list: listing('metadata.list', '/metadata', 'The listing (reference §6.2)'),
  listBy: listing('metadata.listBy', '/metadata/:arg1',
    'The listing filtered by a path argument: an e-mail filters on the endorser, a date on the endorsement date, anything else on the identifier',
    { arg1: 'identifier, e-mail or date' }),
  listBy2: listing('metadata.listBy2', '/metadata/:arg1/:arg2', 'The listing filtered by two path arguments, read as for one',
    { arg1: 'identifier, e-mail or date', arg2: 'identifier, e-mail or date' }),
  entry: defineRoute({
    name: 'metadata.entry', method: 'GET', path: '/metadata/:identifier/:email/:created', resource: 'metadata', access: 'optional',
    summary: 'One stored entry, whatever its status (three arguments that are not identifier, e-mail and date: the listing)',
    params: pathParams({ identifier: 'the identifier', email: "the endorser's e-mail", created: 'the endorsement date' }),
    querystring: listingParams,
    errors: [404],
    responses: {
      200: {
        description: 'the entry (or the listing)',
        content: { ...oneEntry, 'application/xml': listingPage.content?.['application/xml'] ?? {}, [JSON_TYPE]: { anyOf: [entryDetail, entryListing] } },
      },
    },
  }),
  tag: defineRoute({
    name: 'metadata.tag', method: 'GET', path: '/tag/:email/:tag', resource: 'metadata', access: 'optional',
    summary: "The endorser's newest non-deprecated entry whose dcterms:alternative is the tag",
    params: pathParams({ email: "the endorser's e-mail", tag: 'the tag' }),
    querystring: media,
    errors: [404],
    responses: { 200: { description: 'the entry', content: oneEntry } },
  }),
  endorsers: defineRoute({
    name: 'endorsers.list', method: 'GET', path: '/endorsers', resource: 'endorsers', access: 'public',
    summary: 'Distinct endorsers',
    querystring: media,
    responses: {
      200: {
        description: 'the endorsers',
        content: { 'application/sparql-results+xml': sparql('email, subject, issuer'), [JSON_TYPE]: object({ endorsers: arrayOf(endorserSummary) }), [HTML]: text('the endorsers page') },
      },
    },
  }),
  endorserEntries: defineRoute({
    name: 'endorsers.entries', method: 'GET', path: '/endorsers/:email', resource: 'endorsers', access: 'public',
    summary: "An endorser's entries endorsed in the last `range` days (default 30)",
    params: email,
    querystring: { type: 'object', properties: { ...(media.properties as object), range: { type: 'string', description: 'days (a positive number; anything else means 30)' } } },
    responses: {
      200: {
        description: 'the entries',
        content: {
          'application/sparql-results+xml': sparql('identifier, created, description, location, deprecated, email'),
          [JSON_TYPE]: object({ email: { type: 'string' }, entries: arrayOf(entrySummary) }),
          [HTML]: text('the search page'),
        },
      },
    },
  }),
  endorserTags: defineRoute({
    name: 'endorsers.tags', method: 'GET', path: '/endorsers/:email/tags', resource: 'endorsers', access: 'public',
    summary: "An endorser's tags",
    params: email,
    querystring: media,
    responses: {
      200: {
        description: 'the tags',
        content: { 'application/sparql-results+xml': sparql('tag'), [JSON_TYPE]: object({ email: { type: 'string' }, tags: arrayOf({ type: 'string' }) }), [HTML]: text('a list') },
      },
    },
  }),
};
