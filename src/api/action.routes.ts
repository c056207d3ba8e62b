import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PendingUploadView, UploadAction } from '../domain/wire.js';
import { actionRoutes } from '../domain/routes/index.js';
import type { MarketplaceApi } from './services.js';
import { baseUrl, negotiate } from './negotiate.js';
import { serve } from './serve.js';
import { created } from './metadata.routes.js';
import { pendingUploadPage, uploadActionDonePage } from '../web/confirmation-pages.js';

/**
 * /action/<token>/confirm|abort|abuse: the links of the confirmation mail (reference §6.3).
 * Possession of the mailed token is the authority, so no account is asked for. GET only
 * describes (a mail scanner that follows the link changes nothing); POST acts. The answers
 * are neither cached nor sent to another site as a Referer, since their URL holds the token.
 */
export function actionRoutesOf(app: FastifyInstance, mp: MarketplaceApi): void {
  serve(app, actionRoutes.show, async (request, reply) => {
    const action = request.params.action as UploadAction;
    const view = await mp.pendingUpload(request.params.uuid);
    private_(reply);
    const media = negotiate(request, 'text');
    if (media === 'html') return reply.type('text/html; charset=utf-8').send(pendingUploadPage(view, action));
    const url = `${baseUrl(request)}/action/${encodeURIComponent(request.params.uuid)}/${action}/`;
    if (media === 'json') return reply.send({ action, method: 'POST', url, ...view });
    return reply.type('text/plain; charset=utf-8').send(describe(view, action, url));
  });

  serve(app, actionRoutes.confirm, async (request, reply) => {
    private_(reply);
    return created(request, reply, await mp.confirmUpload(request.params.uuid));
  });

  serve(app, actionRoutes.abort, async (request, reply) => done(request, reply, 'abort', await mp.abortUpload(request.params.uuid)));
  serve(app, actionRoutes.abuse, async (request, reply) => done(request, reply, 'abuse', await mp.reportUpload(request.params.uuid)));
}

/**
 * The URL holds the token: never cached, never sent as a Referer to another site. Not
 * `no-referrer`: with it a browser posts the page's form with `Origin: null`, which the
 * cross-site check refuses (found by test/e2e/upload-confirmation-web).
 */
function private_(reply: FastifyReply): void {
  reply.header('Cache-Control', 'no-store').header('Referrer-Policy', 'same-origin');
}

function done(request: FastifyRequest, reply: FastifyReply, action: 'abort' | 'abuse', view: PendingUploadView): FastifyReply {
  private_(reply);
  const media = negotiate(request, 'text');
  if (media === 'html') return reply.type('text/html; charset=utf-8').send(uploadActionDonePage(action, view));
  if (media === 'json') return reply.send({ status: action === 'abort' ? 'aborted' : 'reported', ...view });
  return reply.type('text/plain; charset=utf-8').send(action === 'abort'
    ? 'metadata entry upload aborted\n'
    : 'administrators have been notified; the pending metadata entry was deleted\n');
}

const WHAT: Record<UploadAction, string> = { confirm: 'store it in the Marketplace', abort: 'abort it (nothing is stored)', abuse: 'report it as abuse (it is deleted and the administrators are told)' };

function describe(v: PendingUploadView, action: UploadAction, url: string): string {
  return [
    `Pending metadata entry ${v.deprecating ? 'deprecating' : 'for'} image ID ${v.identifier}, endorsed at ${v.created} by ${v.email}${v.title ? ` (${v.title})` : ''}.`,
    `It waits for confirmation until ${v.expires}.`,
    `Opening this link changes nothing. To ${WHAT[action]}, POST to it:`,
    '',
    `  curl -X POST ${url}`,
    '',
  ].join('\n');
}
