/**
 * What every way of making an image (stratus-create-image, or --save then shutdown) must give
 * its creator (issue 10, Done when): a private volume whose identifier is the new ID, the mail
 * `New image created <ID>` with the unsigned draft attached, a draft entry only its owner
 * sees, and, once she re-signs the draft with her own P12, a public entry whose checksums are
 * those of the volume's bytes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ok } from './cli.js';
import type { CliResult } from './cli.js';
import { decodeWords, parseMime } from './smtp.js';
import type { MimePart } from './smtp.js';
import { addDays, formatUtc } from '../../src/domain/dates.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import type { VolumeInfo } from '../../src/domain/volume.js';
import type { EntrySummary } from '../../src/domain/wire.js';

export interface Account {
  username: string;
  password: string;
}

const basic = (u: Account): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}` });

/** The outbox message `New image created <identifier>`, parsed. */
export function savedImageMail(dataDir: string, identifier: string): { raw: string; mime: MimePart; draftXml: string } {
  const dir = join(dataDir, 'outbox');
  const all = readdirSync(dir).filter((f) => f.endsWith('.eml')).map((f) => readFileSync(join(dir, f), 'utf8'));
  const raw = all.find((m) => decodeWords(parseMime(m).headers.get('subject') ?? '') === `New image created ${identifier}`);
  assert.ok(raw, `no "New image created ${identifier}" in ${dir}: ${all.map((m) => parseMime(m).headers.get('subject')).join(' | ')}`);
  const mime = parseMime(raw);
  const attachment = mime.parts.find((p) => /manifest-not-signed\.xml/.test(p.headers.get('content-disposition') ?? ''));
  assert.ok(attachment, 'the unsigned draft is attached as manifest-not-signed.xml');
  const draftXml = attachment.body.toString('utf8');
  assert.match(draftXml, new RegExp(`<dcterms:identifier>${identifier}</dcterms:identifier>`));
  assert.doesNotMatch(draftXml, /<Signature/, 'the attachment is not signed');
  return { raw, mime, draftXml };
}

/** A draft's dcterms:description, unescaped: the user's --comment, then the audit's verdict. */
export function draftDescription(draftXml: string): string {
  const m = /<dcterms:description>([^<]*)<\/dcterms:description>/.exec(draftXml);
  assert.ok(m, 'the draft has a description');
  return (m[1] as string).replace(/&apos;/g, '\'').replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * Checks the outcome of a save: the volume (owner, private, tag, identifier = SHA-1 of its
 * bytes), the mail to `authorEmail`, the draft seen by `owner` only. Returns the volume and
 * the unsigned draft. `verdict`: what the draft's description must say (the audit's verdict, issue 11 §3).
 */
export async function checkSavedImage(o: {
  url: string; dataDir: string; identifier: string; owner: Account; other: Account; authorEmail: string; title: string; verdict: RegExp;
  cli: (args: string[]) => Promise<CliResult>;
}): Promise<{ volume: VolumeInfo; draftXml: string }> {
  const volumes = JSON.parse(ok(await o.cli(['describe-volumes', '--json'])).stdout) as VolumeInfo[];
  const volume = volumes.find((v) => v.identifier === o.identifier);
  assert.ok(volume, `stratus-describe-volumes lists no volume with identifier ${o.identifier}: ${JSON.stringify(volumes)}`);
  assert.deepEqual([volume.owner, volume.type, volume.visibility, volume.tag], [o.owner.username, 'MACHINE_IMAGE_ORIGIN', 'PRIVATE', o.title]);
  const file = volumeFile(o.dataDir, volume);
  assert.equal(formatOf(file), 'qcow2', 'a saved image is a standalone qcow2 (saved_image_format)');
  const sums = await digests(file);
  assert.equal(identifierFromSha1(sums.sha1 ?? ''), o.identifier, 'the identifier is the SHA-1 of the stored bytes');

  const mail = savedImageMail(o.dataDir, o.identifier);
  assert.match(mail.mime.headers.get('to') ?? '', new RegExp(o.authorEmail.replace(/\./g, '\\.')));
  const body = mail.mime.parts.map((p) => p.body.toString('utf8')).join('\n');
  assert.match(body, /Image creation was SUCCESSFUL/);
  assert.ok(body.includes(`${o.url}/pswd/disks/${volume.uuid}`), 'the mail links this server\'s pdisk');
  for (const [name, value] of Object.entries(sums)) assert.ok(mail.draftXml.includes(value), `the draft carries the ${name} of the volume's bytes`);
  assert.match(draftDescription(mail.draftXml), o.verdict);

  const seen = async (who?: Account): Promise<EntrySummary[]> => {
    const res = await fetch(`${o.url}/metadata/${o.identifier}?media=json`, { headers: who ? basic(who) : {} });
    if (res.status === 404) return [];
    return ((await res.json()) as { entries: EntrySummary[] }).entries;
  };
  assert.equal((await seen(o.owner)).length, 1, 'the owner sees her draft');
  assert.deepEqual(await seen(o.other), [], 'another user does not');
  assert.deepEqual(await seen(), [], 'nor does anyone anonymous');
  return { volume, draftXml: mail.draftXml };
}

/**
 * The draft becomes public: its owner gives it a longer validity, signs it with her own P12
 * and uploads it. The public entry is valid, and its checksums are the volume's.
 */
export async function publishDraft(o: { url: string; dataDir: string; identifier: string; draftXml: string; volume: VolumeInfo; home: string; cli: (args: string[]) => Promise<CliResult> }): Promise<void> {
  const valid = formatUtc(addDays(new Date(), 178));
  const file = join(o.home, 'manifest-not-signed.xml');
  writeFileSync(file, o.draftXml.replace(/<dcterms:valid>[^<]*<\/dcterms:valid>/, `<dcterms:valid>${valid}</dcterms:valid>`));
  ok(await o.cli(['generate-p12', '--force', '-n', 'Jane Owner', '-e', 'jane@example.org', '-o', join(o.home, 'jane.p12'), '-p', 'secret']));
  ok(await o.cli(['sign-metadata', '--p12-cert', join(o.home, 'jane.p12'), '--p12-password', 'secret', file]));
  ok(await o.cli(['upload-metadata', '--marketplace-endpoint', o.url, file]));
  const res = await fetch(`${o.url}/metadata/${o.identifier}?media=json`);
  assert.equal(res.status, 200, 'anyone sees the entry now');
  const entries = ((await res.json()) as { entries: EntrySummary[] }).entries;
  assert.deepEqual(entries.map((e) => [e.email, e.status, e.valid]), [['jane@example.org', 'valid', valid]]);
  const xml = await (await fetch(`${o.url}/metadata/${o.identifier}/jane@example.org?media=xml`)).text();
  const sums = await digests(volumeFile(o.dataDir, o.volume));
  for (const [name, value] of Object.entries(sums)) assert.ok(xml.includes(value), `the public entry carries the ${name} of the volume's bytes`);
}

/** The file holding a volume's bytes in the data dir's volume store. */
export function volumeFile(dataDir: string, volume: Pick<VolumeInfo, 'uuid'>): string {
  const name = readdirSync(join(dataDir, 'volumes')).find((f) => f === `${volume.uuid}.raw` || f === `${volume.uuid}.qcow2`);
  assert.ok(name, `no file for volume ${volume.uuid}`);
  return join(dataDir, 'volumes', name);
}

function formatOf(file: string): string {
  const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' })) as { format: string; 'backing-filename'?: string };
  assert.equal(info['backing-filename'], undefined, 'standalone: no backing file');
  return info.format;
}

async function digests(file: string): Promise<Record<string, string>> {
  const names = ['md5', 'sha1', 'sha256', 'sha512'];
  const hashes = names.map((n) => createHash(n));
  for await (const chunk of createReadStream(file)) for (const h of hashes) h.update(chunk as Buffer);
  return Object.fromEntries(names.map((n, i) => [n, (hashes[i] as ReturnType<typeof createHash>).digest('hex')]));
}
