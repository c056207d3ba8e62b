import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStratusError } from '../../src/domain/errors.js';
import type { Mailer } from '../../src/mail/index.js';
import { savedImageMessage } from '../../src/mail/index.js';
import { decodeWords, headerLines, parseMime } from '../helpers/smtp.js';

export interface MailerUnderTest {
  mailer: Mailer;
  /** The raw messages delivered so far, oldest first. */
  delivered(): string[];
}

const draftXml = '<?xml version="1.0" encoding="UTF-8"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n  <rdf:Description rdf:about="#x"><dcterms:title xmlns:dcterms="http://purl.org/dc/terms/">Wetter für die Wolke ☁</dcterms:title></rdf:Description>\n</rdf:RDF>\n';

/** What every Mailer must do: deliver the saved-image notice whole, keep UTF-8, refuse what is not one plain address. */
export function mailerConformance(name: string, make: () => Promise<MailerUnderTest>): void {
  test(`${name}: the saved-image notice arrives whole (headers, body, the draft attached as application/xml)`, async () => {
    const t = await make();
    assert.ok(t.mailer.destination.length > 0);
    const notice = savedImageMessage({
      id: 'IOeo3R5qEdCas5j_r1HxVne3JMk', volumeUuid: '410b7fb4-973b-4b6d-82a7-e637a5103f4d', serverUrl: 'http://127.0.0.1:9204',
      marketplaceUrl: 'http://127.0.0.1:9204', validityDays: 2, draftXml, to: 'builder@example.org',
    })!;
    await t.mailer.send(notice);
    const all = t.delivered();
    assert.equal(all.length, 1);
    const raw = all[0]!;
    assert.ok(!/[^\r]\n/.test(raw), 'every line ends in CRLF');
    const msg = parseMime(raw);
    for (const h of ['from', 'to', 'subject', 'date', 'message-id', 'mime-version']) assert.ok(msg.headers.has(h), `header ${h}`);
    assert.equal(headerLines(raw).filter((l) => /^subject:/i.test(l)).length, 1);
    assert.equal(msg.headers.get('to'), 'builder@example.org');
    assert.equal(msg.headers.get('subject'), 'New image created IOeo3R5qEdCas5j_r1HxVne3JMk');
    const [body, file] = msg.parts;
    assert.equal(msg.parts.length, 2);
    assert.equal(body?.body.toString('utf8').replace(/\r\n/g, '\n'), notice.text);
    assert.match(file?.headers.get('content-disposition') ?? '', /^attachment; filename="?manifest-not-signed\.xml"?$/);
    assert.match(file?.headers.get('content-type') ?? '', /^application\/xml/);
    assert.equal(file?.body.toString('utf8'), draftXml);
  });

  test(`${name}: UTF-8 subjects and bodies survive`, async () => {
    const t = await make();
    await t.mailer.send({ to: 'jane@example.org', subject: 'Bild „Wolke“ ☁ fertig', text: 'Grüße aus der Wolke ☁\n' });
    const msg = parseMime(t.delivered()[0]!);
    assert.equal(decodeWords(msg.headers.get('subject') ?? ''), 'Bild „Wolke“ ☁ fertig');
    assert.equal(msg.body.toString('utf8').replace(/\r\n/g, '\n'), 'Grüße aus der Wolke ☁\n');
  });

  test(`${name}: a recipient that is not one plain address is refused and nothing is delivered`, async () => {
    const t = await make();
    let caught: unknown;
    await t.mailer.send({ to: 'jane@example.org, eve@example.org', subject: 's', text: 't' }).catch((e: unknown) => { caught = e; });
    assert.ok(isStratusError(caught, 'EMAIL_INVALID'), String(caught));
    assert.deepEqual(t.delivered(), []);
  });
}
