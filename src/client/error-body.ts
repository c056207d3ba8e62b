/**
 * The message and hint of a server's error answer, whatever representation it came in: the
 * <error> element of XML, the "<status>" and "hint" fields of JSON, or the "message\nhint: …"
 * of plain text (src/api/errors.ts writes all three).
 */
export function errorBody(body: string, status: number): { message: string; hint?: string } {
  const xml = /<error>([\s\S]*?)<\/error>/.exec(body);
  if (xml) return { message: (xml[1] ?? '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') };
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    const msg = json[String(status)] ?? json.message;
    if (typeof msg === 'string') return typeof json.hint === 'string' ? { message: msg, hint: json.hint } : { message: msg };
  } catch {
    // not JSON
  }
  const plain = /^(.*)\nhint: (.*)\n?$/.exec(body);
  if (plain) return { message: plain[1] ?? '', hint: plain[2] ?? '' };
  return { message: body.split('\n')[0]?.trim() ?? '' };
}
