import { randomBytes } from 'node:crypto';

/** One part of a cloud-init MIME multipart user-data. */
export interface UserDataPart {
  /** text/x-shellscript, text/cloud-config, text/cloud-boothook, … */
  type: string;
  content: string;
  filename?: string;
}

/** 19 random decimal digits, as Python's email package makes its boundaries. */
function boundaryDigits(): string {
  const bytes = randomBytes(19);
  return [...bytes].map((b) => String(b % 10)).join('');
}

/**
 * A MIME multipart/mixed document as cloud-init reads it, laid out as StratusLab's client made
 * it with Python's email package (reference §8.1): one part per script or cloud-config, in
 * order; `us-ascii`/7bit for ASCII parts, `utf-8`/8bit otherwise; each part's bytes followed by
 * a newline and the next boundary line, the last boundary closing with `--` and a newline.
 */
export function multipart(parts: UserDataPart[], boundary = `===============${boundaryDigits()}==`): string {
  const lines = [`Content-Type: multipart/mixed; boundary="${boundary}"`, 'MIME-Version: 1.0', ''];
  parts.forEach((p, i) => {
    if (p.content.includes(`--${boundary}`)) throw new Error('multipart: a part contains the boundary');
    // eslint-disable-next-line no-control-regex
    const ascii = /^[\x00-\x7f]*$/.test(p.content);
    lines.push(`--${boundary}`, `Content-Type: ${p.type}; charset="${ascii ? 'us-ascii' : 'utf-8'}"`, 'MIME-Version: 1.0',
      `Content-Transfer-Encoding: ${ascii ? '7bit' : '8bit'}`,
      `Content-Disposition: attachment; filename="${p.filename ?? `part-${String(i + 1).padStart(3, '0')}`}"`, '', p.content);
  });
  // A final newline: line-by-line readers (the ttylinux agent's shell) drop an unended last line.
  lines.push(`--${boundary}--`, '');
  return lines.join('\n');
}
