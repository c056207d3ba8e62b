import { createHash } from 'node:crypto';

/** Small HTML helpers shared by the pages; every value goes through `esc`. */
export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const STYLE = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
header{background:#23395d;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:center}
header a{color:#fff;text-decoration:none}header .brand{font-weight:700;font-size:1.15rem}
main{padding:1rem 1.2rem;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #d9dde3;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.92rem}
th{background:#eef1f5}td.mono,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:flex-end;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.8rem;gap:.2rem}
input,select,button{font:inherit;padding:.3rem .4rem}button{background:#23395d;color:#fff;border:0;border-radius:3px;cursor:pointer}
.verdict{padding:.5rem .8rem;border-radius:4px;margin:.5rem 0;font-weight:600}
.ok{background:#e3f6e8;color:#14532d}.bad{background:#fde8e8;color:#7f1d1d}.warn{background:#fff4d6;color:#7a4b00}
.status{display:inline-block;padding:.05rem .4rem;border-radius:3px;font-size:.8rem;background:#e5e7eb}
.status.valid{background:#d1fae5}.status.expired{background:#fee2e2}.status.deprecated{background:#fde68a}
.error{background:#fde8e8;color:#7f1d1d;padding:.8rem;border-radius:4px;white-space:pre-wrap}
.pager{margin:.8rem 0;display:flex;gap:1rem}
`;

/**
 * The Content-Security-Policy of every page: nothing loads or runs but the one inline style
 * sheet above (allowed by its hash, so an injected <style> or style attribute is not), forms
 * post only here, and no other site may frame the pages. Pages carry no script at all.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The page frame: header with navigation, then the content. */
export function layout(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Stratus Marketplace</title><style>${STYLE}</style></head>
<body><header><a class="brand" href="/">Stratus Marketplace</a><a href="/metadata?media=html">Search</a><a href="/endorsers?media=html">Endorsers</a><a href="/upload">Upload</a></header>
<main>${body}</main></body></html>`;
}
