import { randomBytes } from 'node:crypto';

/** One part of a cloud-init MIME multipart user-data. */
export interface UserDataPart {
  /** text/x-shellscript, text/cloud-config, text/cloud-boothook, … */
  type: string;
  content: string;
  filename?: string;
}

/**
 * A MIME multipart/mixed document as cloud-init reads it (what `cloud-init devel make-mime`
 * and write-mime-multipart produce): one part per script or cloud-config, in order.
 */
export function multipart(parts: UserDataPart[], boundary = `===============${randomBytes(8).toString('hex')}==`): string {
  const lines = [`Content-Type: multipart/mixed; boundary="${boundary}"`, 'MIME-Version: 1.0', ''];
  parts.forEach((p, i) => {
    if (p.content.includes(`--${boundary}`)) throw new Error('multipart: a part contains the boundary');
    lines.push(`--${boundary}`, `Content-Type: ${p.type}; charset="utf-8"`, 'MIME-Version: 1.0', 'Content-Transfer-Encoding: 7bit',
      `Content-Disposition: attachment; filename="${p.filename ?? `part-${String(i + 1).padStart(3, '0')}`}"`, '', p.content.replace(/\n?$/, '\n'));
  });
  lines.push(`--${boundary}--`, '');
  return lines.join('\n');
}
