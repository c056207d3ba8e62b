import { gzipSync } from 'node:zlib';
import { basename } from 'node:path';
import type { ContextPair } from './cloud-init-pairs.js';
import { USER_DATA_LIMIT } from './nocloud.js';

/** Part types cloud-init (22.x, in debian-12) handles; anything else it skips with a log line. */
const KNOWN_TYPES = new Set([
  'x-shellscript', 'x-shellscript-per-boot', 'x-shellscript-per-instance', 'x-shellscript-per-once',
  'cloud-config', 'cloud-config-archive', 'cloud-config-jsonp', 'x-include-url', 'x-include-once-url',
  'upstart-job', 'part-handler', 'cloud-boothook', 'jinja2', 'plain',
]);

/** First-line headers cloud-init recognises in a literal (`none`) user-data. */
const LITERAL_HEADERS = ['#!', '#cloud-config', '#include', '#cloud-boothook', '#part-handler', '#upstart-job', '## template: jinja', 'Content-Type:'];

const KEY_RE = /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-|sk-(ssh|ecdsa)-)/;

/**
 * Warnings about a context before any VM starts: the mistakes that otherwise show up only as
 * a guest that silently did nothing (cloud-init skips a script without `#!`, a cloud-config
 * without its header, an unknown part type; `bash\r` is not found; dropped parts).
 */
export function lintContext(pairs: ContextPair[], read: (file: string) => Buffer, userData: Buffer): string[] {
  const warnings: string[] = [];
  const nones = pairs.filter((p) => p.mimetype === 'none');
  if (nones.length > 1) {
    warnings.push(`only the last none file is used (${basename((nones[nones.length - 1] as ContextPair).file)}); ${nones.slice(0, -1).map((p) => basename(p.file)).join(', ')} dropped`);
  }
  const parts = pairs.filter((p) => p.mimetype !== 'ssh' && p.mimetype !== 'none');
  if (nones.length && parts.length) warnings.push(`a none file is the whole user-data: ${parts.map((p) => `${p.mimetype},${basename(p.file)}`).join(' ')} dropped`);
  for (const p of pairs) {
    const text = read(p.file).toString('utf8');
    const name = basename(p.file);
    if (p.mimetype === 'ssh') {
      if (text.includes('PRIVATE KEY')) {
        warnings.push(`${name}: this is a private key; give its .pub file (a private key must never leave your machine)`);
        continue;
      }
      // OpenSSH one-line keys, or RFC 4716 blocks (---- BEGIN SSH2 PUBLIC KEY ----, base64 lines).
      const bad = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('Comment:') && !l.startsWith('---- ') && !KEY_RE.test(l) && !/^[A-Za-z0-9+/=]+$/.test(l));
      if (bad.length) warnings.push(`${name}: ${bad.length} line(s) that are not SSH public keys (the wrong file?)`);
      continue;
    }
    if (p.mimetype === 'none') {
      if (!LITERAL_HEADERS.some((h) => text.startsWith(h))) warnings.push(`${name}: as literal user-data it needs a first line cloud-init knows (#! for a script, #cloud-config, #include …); cloud-init ignores it otherwise`);
    } else if (!KNOWN_TYPES.has(p.mimetype)) {
      warnings.push(`${name}: unknown part type text/${p.mimetype}; cloud-init skips it (known: x-shellscript, cloud-config, x-include-url, cloud-boothook, part-handler, upstart-job …)`);
    } else if (p.mimetype.startsWith('x-shellscript') && !text.startsWith('#!')) {
      warnings.push(`${name}: a shell script part must start with #! (e.g. #!/bin/sh); cloud-init cannot run it otherwise`);
    } else if (p.mimetype === 'cloud-config' && !text.startsWith('#cloud-config')) {
      warnings.push(`${name}: a cloud-config part must start with the line #cloud-config`);
    }
    if (text.startsWith('#!') && text.includes('\r\n')) warnings.push(`${name}: CRLF line ends; the kernel looks for an interpreter named with a trailing \\r and the script does not run (convert with dos2unix)`);
  }
  const size = gzipSync(userData, { level: 9 }).length;
  if (size > USER_DATA_LIMIT * 0.75 && size <= USER_DATA_LIMIT) warnings.push(`user-data is ${size} bytes gzipped, close to the ${USER_DATA_LIMIT}-byte limit`);
  return warnings;
}
