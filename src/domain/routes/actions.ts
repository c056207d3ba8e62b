/**
 * The links of the confirmation mail (reference §6.3, `validate.email`): an upload by an
 * endorser the trust policy does not trust waits until its endorser confirms, aborts or
 * reports it. The token in the path is the only credential. Opening a link (GET) changes
 * nothing, since mail scanners and link previews open links too; its page's button POSTs.
 */
import { defineRoute, object, text } from './route.js';
import type { JsonSchema, ResponseSpec, RouteSpec } from './route.js';
import { uploaded } from './marketplace.js';

const JSON_TYPE = 'application/json';
const HTML = 'text/html';
const PLAIN = 'text/plain';

const token: JsonSchema = { type: 'string', minLength: 1, maxLength: 100, description: 'the secret token of the mailed link (longer paths are refused with 414 before routing)' };
const tokenOnly: JsonSchema = { type: 'object', properties: { uuid: token }, required: ['uuid'] };
const media: JsonSchema = { type: 'object', properties: { media: { type: 'string', enum: ['json', 'html', 'text', ''], description: 'json, html or text' } } };
/** The page's button posts an empty form; clients may post nothing. */
const emptyForm = { 'application/x-www-form-urlencoded': { type: 'object', description: 'an empty form (the page\'s button)' } };

const pendingProps: Record<string, JsonSchema> = {
  identifier: { type: 'string' },
  email: { type: 'string', description: "the endorser: the signing certificate's e-mail address" },
  created: { type: 'string', description: 'the endorsement date' },
  title: { type: ['string', 'null'] },
  deprecating: { type: 'boolean', description: 'the entry deprecates its image' },
  received: { type: 'string', description: 'when it was uploaded (ISO 8601 UTC)' },
  expires: { type: 'string', description: 'when the links stop working (ISO 8601 UTC)' },
};
const pending = object({
  action: { type: 'string', enum: ['confirm', 'abort', 'abuse'] },
  method: { type: 'string', enum: ['POST'], description: 'how to do the action' },
  url: { type: 'string', description: 'where to POST' },
  ...pendingProps,
});
const dropped = (status: string): JsonSchema => object({ status: { type: 'string', enum: [status] }, ...pendingProps });

/** The POST of one action: the token in the path, an empty form or nothing as the body. */
function postAction<const A extends string>(action: A, summary: string, errors: number[], responses: { [status: number]: ResponseSpec }): RouteSpec<`/action/:uuid/${A}`> {
  return defineRoute({
    name: `action.${action}`, method: 'POST', path: `/action/:uuid/${action}`, resource: 'action', access: 'public',
    summary, params: tokenOnly, querystring: media, body: emptyForm, errors, responses,
  });
}

export const actionRoutes = {
  show: defineRoute({
    name: 'action.show', method: 'GET', path: '/action/:uuid/:action', resource: 'action', access: 'public',
    summary: 'What a confirmation link would do: the upload waiting under the token, and a button that POSTs to the same address',
    description: 'Changes nothing: mail scanners and link previews open links too. A trailing slash, as the mail writes the links, is the same route.',
    params: { type: 'object', properties: { uuid: token, action: { type: 'string', enum: ['confirm', 'abort', 'abuse'] } }, required: ['uuid', 'action'] },
    querystring: media,
    errors: [404],
    responses: {
      200: { description: 'the upload waiting for confirmation', content: { [HTML]: text('a page with the upload and the button'), [JSON_TYPE]: pending, [PLAIN]: text('the upload, and how to POST') } },
    },
  }),
  confirm: postAction('confirm', 'Confirm: store the waiting upload as an upload would have been stored (the link then works no more)', [400, 404], {
    201: { description: 'stored; Location names the entry', content: { [PLAIN]: text('metadata entry created'), [JSON_TYPE]: uploaded, [HTML]: text('a page linking to the entry') } },
    200: { description: 'the very same entry was stored meanwhile', content: { [PLAIN]: text('metadata entry already stored'), [JSON_TYPE]: uploaded, [HTML]: text('a page linking to the entry') } },
  }),
  abort: postAction('abort', 'Abort: delete the waiting upload; nothing is stored', [404], {
    200: { description: 'deleted', content: { [PLAIN]: text('metadata entry upload aborted'), [JSON_TYPE]: dropped('aborted'), [HTML]: text('a page saying so') } },
  }),
  abuse: postAction('abuse', 'Report abuse: delete the waiting upload and tell the administrators ([marketplace] admin_email, or the server log)', [404, 502], {
    200: { description: 'deleted, administrators told', content: { [PLAIN]: text('administrators have been notified'), [JSON_TYPE]: dropped('reported'), [HTML]: text('a page saying so') } },
  }),
};
