import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { after } from 'node:test';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerOptions } from 'smtp-server';

export interface Arrived {
  mailFrom: string;
  rcptTo: string[];
  user?: string;
  raw: string;
}

export interface TestSmtp {
  port: number;
  arrived: Arrived[];
  close(): Promise<void>;
}

/** A real SMTP server on a free loopback port that keeps what arrives; closed when the test file ends. */
export async function startSmtp(options: { tls?: { key: string; cert: string }; secure?: boolean; login?: { user: string; password: string }; refuseRecipient?: (address: string) => boolean }): Promise<TestSmtp> {
  const arrived: Arrived[] = [];
  const config: SMTPServerOptions = {
    logger: false,
    secure: options.secure ?? false,
    ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : { disabledCommands: ['STARTTLS'] }),
    ...(options.login ? { authMethods: ['PLAIN'] } : { authOptional: true }),
    onAuth(auth, _session, done) {
      const ok = auth.username === options.login?.user && auth.password === options.login?.password;
      done(ok ? null : new Error('Invalid username or password'), ok ? { user: auth.username } : undefined);
    },
    onRcptTo(address, _session, done) {
      done(options.refuseRecipient?.(address.address) ? Object.assign(new Error('Mailbox unavailable'), { responseCode: 550 }) : undefined);
    },
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const env = session.envelope;
        arrived.push({
          mailFrom: env.mailFrom ? env.mailFrom.address : '',
          rcptTo: env.rcptTo.map((r) => r.address),
          ...(typeof session.user === 'string' ? { user: session.user } : {}),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        done();
      });
    },
  };
  const server = new SMTPServer(config);
  // A client that gives up mid-handshake is an 'error' of the server; the test looks at what the client saw.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const close = (): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
  after(close);
  return { port: (server.server.address() as AddressInfo).port, arrived, close };
}

/** A CA and a server certificate it signed for 127.0.0.1 and localhost, made by openssl in `dir`. */
export function makeCertificates(dir: string): { caFile: string; key: string; cert: string } {
  const at = (n: string): string => join(dir, n);
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '2', '-subj', '/CN=Stratus test mail CA',
    '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('server.key'), '-out', at('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(at('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:false\nextendedKeyUsage=serverAuth\n');
  run(['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('server.pem'), '-days', '2', '-extfile', at('ext.cnf')]);
  return { caFile: at('ca.pem'), key: readFileSync(at('server.key'), 'utf8'), cert: readFileSync(at('server.pem'), 'utf8') };
}

export interface MimePart {
  headers: Map<string, string>;
  /** The decoded body (base64 and quoted-printable undone). */
  body: Buffer;
  parts: MimePart[];
}

/** A minimal MIME reader for the messages Stratus writes: headers (unfolded), multipart bodies, base64 and quoted-printable. */
export function parseMime(raw: string): MimePart {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split < 0 ? raw : raw.slice(0, split);
  const rest = split < 0 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    const chunks = rest.split(`--${boundary}`).slice(1);
    const parts = chunks.filter((c) => !c.startsWith('--')).map((c) => parseMime(c.replace(/^\r?\n/, '').replace(/\r?\n$/, '')));
    return { headers, body: Buffer.alloc(0), parts };
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const body = encoding === 'base64' ? Buffer.from(rest.replace(/\s+/g, ''), 'base64')
    : encoding === 'quoted-printable' ? Buffer.from(rest.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1')
      : Buffer.from(rest, 'utf8');
  return { headers, body, parts: [] };
}

/** The header lines of a raw message, unfolded, in order. */
export function headerLines(raw: string): string[] {
  const split = raw.search(/\r?\n\r?\n/);
  return raw.slice(0, split).replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/);
}

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`) decoded; whitespace between two of them dropped. */
export function decodeWords(value: string): string {
  return value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_m, charset: string, enc: string, text: string) => {
    const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return new TextDecoder(charset).decode(bytes);
  });
}
