import type { PendingUploadView, UploadAction } from '../domain/wire.js';
import { esc, layout } from './html.js';

const VERBS: Record<UploadAction, { title: string; button: string; says: string }> = {
  confirm: { title: 'Confirm the upload', button: 'Confirm the upload', says: 'stores the entry in the Marketplace' },
  abort: { title: 'Abort the upload', button: 'Abort the upload', says: 'deletes the upload; nothing is stored' },
  abuse: { title: 'Report the upload as abuse', button: 'Report abuse', says: 'deletes the upload and tells the administrators' },
};

function describe(v: PendingUploadView): string {
  const row = (label: string, value: string, id: string): string => `<tr><th>${label}</th><td id="${id}" class="mono">${esc(value)}</td></tr>`;
  return `<table>${row('Identifier', v.identifier, 'identifier')}${row('Endorser', v.email, 'endorser')}${row('Endorsed at', v.created, 'created')}`
    + `${row('Title', v.title ?? '', 'title')}${row('Kind', v.deprecating ? 'deprecates the image' : 'new entry', 'kind')}`
    + `${row('Uploaded at', v.received, 'received')}${row('Link valid until', v.expires, 'expires')}</table>`;
}

/**
 * What a confirmation link opens. Opening it changes nothing (mail scanners and link previews
 * open links too): the button posts to the same address, which does the action.
 */
export function pendingUploadPage(v: PendingUploadView, action: UploadAction): string {
  const verb = VERBS[action];
  return layout(verb.title, `<h1>${esc(verb.title)}</h1>
<p>A metadata entry endorsed with your e-mail address was uploaded and waits for your confirmation.</p>
${describe(v)}
<p>The button ${esc(verb.says)}.</p>
<form id="action" method="post"><button type="submit" id="do-action">${esc(verb.button)}</button></form>`);
}

/** The answer to an upload held for confirmation. */
export function confirmationSentPage(to: string, expires: string): string {
  return layout('Confirmation sent', `<h1 id="pending">Confirmation e-mail sent</h1>
<p>The entry is stored once its endorser confirms it: a message with the links went to <span class="mono" id="to">${esc(to)}</span>.
The links work until <span class="mono">${esc(expires)}</span>.</p><p><a href="/upload">Upload another file</a></p>`);
}

/** After an abort or an abuse report. */
export function uploadActionDonePage(action: 'abort' | 'abuse', v: PendingUploadView): string {
  const text = action === 'abort' ? 'The upload was aborted: nothing was stored.' : 'The upload was deleted and the administrators have been notified.';
  return layout(action === 'abort' ? 'Upload aborted' : 'Abuse reported', `<h1 id="done">${esc(text)}</h1>${describe(v)}<p><a href="/metadata?media=html">Search</a></p>`);
}
