/**
 * The SMTP mailer against a real SMTP server (smtp-server) on a loopback port: plain,
 * STARTTLS and implicit TLS with a CA made by openssl and trusted through [mail] ca_file,
 * AUTH PLAIN, and servers that refuse, cannot be reached or never answer. What arrived is read
 * back: envelope, headers, body and the attachment decoded from MIME.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { isStratusError } from '../../src/domain/errors.js';
import type { StratusError } from '../../src/domain/errors.js';
import { createMailer, loadMailSettings, savedImageMessage } from '../../src/mail/index.js';
import type { Mailer } from '../../src/mail/index.js';
import { makeCertificates, parseMime, startSmtp } from '../helpers/smtp.js';
import { tempDir } from '../helpers/tmp.js';
import { mailerConformance } from '../conformance/mailer.js';

const dir = tempDir('stratus-mail-smtp-');
const certs = makeCertificates(dir);

const mailerFor = (mail: Record<string, string>): Mailer => createMailer(loadMailSettings((k) => mail[k], dir, `${dir}/stratus.cfg`, Object.keys(mail)));

const draftXml = '<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description about="#é"/></rdf:RDF>\n';
const notice = savedImageMessage({
  id: 'IOeo3R5qEdCas5j_r1HxVne3JMk', volumeUuid: '410b7fb4-973b-4b6d-82a7-e637a5103f4d', serverUrl: 'http://127.0.0.1:9204',
  marketplaceUrl: 'http://127.0.0.1:9204', validityDays: 2, draftXml, to: 'builder@example.org',
})!;

/** The notice arrived (the conformance suite checks every part of it; here, that it is this one). */
function assertNotice(raw: string): void {
  const msg = parseMime(raw);
  assert.equal(msg.headers.get('subject'), 'New image created IOeo3R5qEdCas5j_r1HxVne3JMk');
  assert.equal(msg.parts[1]?.body.toString('utf8'), draftXml);
}

mailerConformance('SMTP mailer (STARTTLS, CA from ca_file)', async () => {
  const smtp = await startSmtp({ tls: certs });
  return { mailer: mailerFor({ host: '127.0.0.1', port: String(smtp.port), security: 'starttls', ca_file: certs.caFile }), delivered: () => smtp.arrived.map((a) => a.raw) };
});

async function refusal(mailer: Mailer): Promise<StratusError> {
  let caught: unknown;
  await mailer.send(notice).catch((e: unknown) => { caught = e; });
  assert.ok(isStratusError(caught, 'MAIL_FAILED'), `MAIL_FAILED expected, got ${String(caught)}`);
  return caught;
}

test('plain SMTP (security = none): the envelope, headers, body and attachment arrive', async () => {
  const smtp = await startSmtp({});
  await mailerFor({ host: '127.0.0.1', port: String(smtp.port), security: 'none', from: 'images@cloud.example.org' }).send(notice);
  assert.equal(smtp.arrived.length, 1);
  const [got] = smtp.arrived;
  assert.equal(got?.mailFrom, 'images@cloud.example.org');
  assert.deepEqual(got?.rcptTo, ['builder@example.org']);
  assert.equal(parseMime(got!.raw).headers.get('from'), 'images@cloud.example.org');
  assertNotice(got!.raw);
});

test('STARTTLS with a private CA trusted through ca_file, and AUTH PLAIN: wrong password refused, right one accepted', async () => {
  const smtp = await startSmtp({ tls: certs, login: { user: 'stratus', password: 'right horse battery' } });
  const base = { host: '127.0.0.1', port: String(smtp.port), security: 'starttls', ca_file: certs.caFile, user: 'stratus' };
  const wrong = await refusal(mailerFor({ ...base, password: 'wrong' }));
  assert.match(wrong.message, new RegExp(`^SMTP server 127\\.0\\.0\\.1:${smtp.port} refused the login of stratus: 535`));
  assert.match(wrong.hint, /\[mail\] user and password/);
  assert.equal(smtp.arrived.length, 0);
  await mailerFor({ ...base, password: 'right horse battery' }).send(notice);
  assert.equal(smtp.arrived.length, 1);
  assert.equal(smtp.arrived[0]?.user, 'stratus');
  assertNotice(smtp.arrived[0]!.raw);
});

test('STARTTLS without ca_file: the private certificate is not trusted and nothing is sent', async () => {
  const smtp = await startSmtp({ tls: certs });
  const e = await refusal(mailerFor({ host: '127.0.0.1', port: String(smtp.port), security: 'starttls' }));
  assert.match(e.message, new RegExp(`^TLS with SMTP server 127\\.0\\.0\\.1:${smtp.port} failed \\(security = starttls\\): .*(certificate|issuer)`, 'i'));
  assert.match(e.hint, /ca_file/);
  assert.equal(smtp.arrived.length, 0);
});

test('security = starttls refuses a server that offers no STARTTLS rather than send in clear', async () => {
  const smtp = await startSmtp({});
  const e = await refusal(mailerFor({ host: '127.0.0.1', port: String(smtp.port), security: 'starttls', ca_file: certs.caFile }));
  assert.match(e.message, /^TLS with SMTP server .* failed \(security = starttls\)/);
  assert.equal(smtp.arrived.length, 0);
});

test('implicit TLS (security = tls) with the CA from ca_file', async () => {
  const smtp = await startSmtp({ tls: certs, secure: true });
  await mailerFor({ host: '127.0.0.1', port: String(smtp.port), security: 'tls', ca_file: certs.caFile }).send(notice);
  assert.equal(smtp.arrived.length, 1);
  assertNotice(smtp.arrived[0]!.raw);
  // The same server spoken to as STARTTLS: a clear error, not a hang.
  const e = await refusal(mailerFor({ host: '127.0.0.1', port: String(smtp.port), security: 'starttls', ca_file: certs.caFile, timeout_s: '2' }));
  assert.match(e.message, new RegExp(`SMTP server 127\\.0\\.0\\.1:${smtp.port}`));
});

test('an unreachable server: a clear error at once (connection refused)', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const started = Date.now();
  const e = await refusal(mailerFor({ host: '127.0.0.1', port: String(port), security: 'none' }));
  assert.match(e.message, new RegExp(`^cannot connect to SMTP server 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
  assert.match(e.hint, /\[mail\] host and port/);
  assert.ok(Date.now() - started < 5000);
});

test('a server that accepts the connection but never greets: MAIL_FAILED after timeout_s, nothing left open', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const port = (silent.address() as AddressInfo).port;
  const started = Date.now();
  const e = await refusal(mailerFor({ host: '127.0.0.1', port: String(port), security: 'none', timeout_s: '1' }));
  const took = Date.now() - started;
  assert.match(e.message, new RegExp(`^SMTP server 127\\.0\\.0\\.1:${port} did not answer within 1 s`));
  assert.ok(took >= 900 && took < 5000, `took ${took} ms`);
  // The client hung up: the server side sees its socket close.
  const deadline = Date.now() + 3000;
  while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(sockets.size, 0);
  await new Promise<void>((r) => silent.close(() => r()));
});
