import type { EndorserSummary, EntryDetail, EntryListing, EntrySummary } from '../domain/wire.js';
import { ENTRY_FIELDS, isValueField, wireName } from '../domain/entry-fields.js';
import type { EntryFields } from '../domain/entry-fields.js';
import { esc, layout } from './html.js';

/** The filters the search page shows; values come back in the query string. */
export interface SearchFilters {
  endorser?: string;
  os?: string;
  status?: string;
  q?: string;
  offset: number;
  limit: number;
}

const STATUSES = ['valid', 'expired', 'deprecated', 'all'];

export function searchPage(f: SearchFilters, listing: EntryListing | undefined, message?: string): string {
  const field = (name: keyof SearchFilters, label: string, placeholder: string): string =>
    `<label>${label}<input name="${name}" value="${esc(f[name] ?? '')}" placeholder="${placeholder}"></label>`;
  const status = `<label>Status<select name="status">${STATUSES.map((s) => `<option${(f.status ?? 'valid') === s ? ' selected' : ''}>${s}</option>`).join('')}</select></label>`;
  const form = `<form class="filters" method="get" action="/metadata"><input type="hidden" name="media" value="html">
${field('q', 'Text', 'any words')}${field('endorser', 'Endorser', 'e-mail')}${field('os', 'OS', 'e.g. Debian')}${status}
<button type="submit">Search</button></form>`;
  const rows = listing?.entries ?? [];
  const table = rows.length === 0
    ? `<p id="no-results">${esc(message ?? 'No metadata entry matches these filters.')}</p>`
    : `<table id="results"><thead><tr><th>OS</th><th>Version</th><th>Arch</th><th>Endorser</th><th>Endorsed</th><th>Identifier</th><th>Title / description</th><th>Status</th></tr></thead><tbody>
${rows.map(resultRow).join('\n')}</tbody></table>`;
  return layout('Search', `<h1>Find images</h1>${form}
<p id="total">${listing ? `${listing.totalExact ? '' : 'more than '}${listing.total} entr${listing.total === 1 ? 'y' : 'ies'}` : ''}</p>${table}${pager(f, listing)}`);
}

function resultRow(e: EntrySummary): string {
  return `<tr><td>${esc(e.os)}</td><td>${esc(e.osVersion)}</td><td>${esc(e.osArch)}</td><td>${esc(e.email)}</td><td>${esc(e.created)}</td>
<td class="mono"><a href="${esc(e.path)}?media=html">${esc(e.identifier)}</a></td><td>${esc(e.title || '')}<br><small>${esc(e.description || '')}</small></td>
<td><span class="status ${esc(e.status)}">${esc(e.status)}</span></td></tr>`;
}

function pager(f: SearchFilters, listing: EntryListing | undefined): string {
  if (!listing || listing.total <= f.limit) return '';
  const link = (offset: number, label: string): string => {
    const params = new URLSearchParams({ media: 'html', offset: String(offset), limit: String(f.limit) });
    for (const k of ['q', 'endorser', 'os', 'status'] as const) if (f[k]) params.set(k, f[k] as string);
    return `<a href="/metadata?${esc(params.toString())}">${label}</a>`;
  };
  const parts: string[] = [];
  if (f.offset > 0) parts.push(link(Math.max(0, f.offset - f.limit), '← previous'));
  parts.push(`<span>${f.offset + 1}–${Math.min(f.offset + f.limit, listing.total)} of ${listing.totalExact ? '' : 'more than '}${listing.total}</span>`);
  if (f.offset + f.limit < listing.total) parts.push(link(f.offset + f.limit, 'next →'));
  return `<div class="pager">${parts.join('')}</div>`;
}

export function entryPage(d: EntryDetail, schema: EntryFields = ENTRY_FIELDS): string {
  const sig = d.signature;
  const verdict = sig.valid
    ? `<div id="signature-verdict" class="verdict ok">Signature valid (${esc(algorithmName(sig.algorithm))}), signed by ${esc(sig.signer?.subject)}</div>`
    : `<div id="signature-verdict" class="verdict bad">Signature INVALID: ${esc(sig.reason)}</div>`;
  const values = d as unknown as Record<string, unknown>;
  const rows: Array<[string, unknown]> = [
    ['Status', d.status], ['Endorsed at', d.created], ['Endorser e-mail', d.email], ['Endorser subject', d.subject], ['Endorser issuer', d.issuer],
    // Every field of the entry schema, in its order; checksums and locations have sections of their own.
    ...schema.filter((f) => isValueField(f) && f.name !== 'locations').map((f): [string, unknown] => {
      const v = values[wireName(f)];
      return [f.label, Array.isArray(v) ? v.join(', ') : v];
    }),
  ];
  const fields = rows.filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td${k === 'Identifier' ? ' class="mono"' : ''}>${esc(v)}</td></tr>`).join('\n');
  const checksums = d.checksums.map((c) => `<tr><th>${esc(c.algorithm)}</th><td class="mono">${esc(c.value)}</td></tr>`).join('\n');
  const locations = d.locations.length === 0 ? '<p>No location.</p>'
    : `<ul id="locations">${d.locations.map((l) => `<li class="mono">${/^(https?|ftp):/.test(l) ? `<a href="${esc(l)}">${esc(l)}</a>` : esc(l)}</li>`).join('')}</ul>`;
  const signer = sig.signer
    ? `<table><tr><th>Subject</th><td>${esc(sig.signer.subject)}</td></tr><tr><th>Issuer</th><td>${esc(sig.signer.issuer)}</td></tr>
<tr><th>E-mail</th><td>${esc(sig.signer.email ?? '')}</td></tr><tr><th>Certificate valid</th><td>${esc(sig.signer.notBefore)} to ${esc(sig.signer.notAfter)}</td></tr></table>` : '';
  const ext = d.extensions.length === 0 ? '' : `<h2>Other elements</h2><pre class="mono">${d.extensions.map(esc).join('\n')}</pre>`;
  return layout(d.title || d.identifier, `<h1>${esc(d.title || d.identifier)}</h1>${verdict}
<p><a href="${esc(d.path)}?media=xml">Signed XML</a> · <a href="${esc(d.path)}?media=json">JSON</a></p>
<h2>Fields</h2><table id="fields">${fields}</table>
<h2>Checksums</h2><table id="checksums">${checksums}</table>
<h2>Locations</h2>${locations}<h2>Signer</h2>${signer}${ext}`);
}

export function uploadPage(): string {
  return layout('Upload', `<h1>Upload a signed metadata entry</h1>
<p>Sign the file first with <code>stratus-sign-metadata</code>. The signature is the credential: no account is needed.</p>
<form id="upload" method="post" action="/metadata" enctype="multipart/form-data">
<input type="file" name="Metadata File" accept=".xml,application/xml,application/rdf+xml" required>
<button type="submit">Upload</button></form>`);
}

export function createdPage(path: string): string {
  return layout('Created', `<h1 id="created">Metadata entry created</h1><p><a id="entry-link" href="${esc(path)}?media=html">${esc(path)}</a></p><p><a href="/metadata?media=html">Search</a></p>`);
}

export function errorPage(status: number, message: string, hint?: string): string {
  return layout(`Error ${status}`, `<h1>Error ${status}</h1><div id="error" class="error">${esc(message)}</div>${hint ? `<p id="hint">${esc(hint)}</p>` : ''}
<p><a href="/upload">Upload another file</a> · <a href="/metadata?media=html">Search</a></p>`);
}

export function endorsersPage(endorsers: EndorserSummary[]): string {
  const rows = endorsers.map((e) => `<tr><td><a href="/metadata?media=html&amp;endorser=${encodeURIComponent(e.email)}&amp;status=all">${esc(e.email)}</a></td><td>${esc(e.subject)}</td><td>${esc(e.issuer)}</td></tr>`).join('\n');
  return layout('Endorsers', `<h1>Endorsers</h1><table><thead><tr><th>E-mail</th><th>Subject</th><th>Issuer</th></tr></thead><tbody>${rows}</tbody></table>`);
}

function algorithmName(uri: string | undefined): string {
  return (uri ?? '').replace(/^.*#/, '').toUpperCase();
}
