/**
 * The web UI end to end: a real `stratus serve` process with a temporary data directory,
 * seeded over HTTP with signed entries, then driven in Debian's Chromium (playwright-core,
 * no downloaded browser): search filters, the entry page, uploads (good, tampered, unsigned).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { identifierFromSha1 } from '../../src/domain/identifier.js';
import { buildEntryXml } from '../../src/metadata/entry/build.js';
import type { EntryDraft } from '../../src/metadata/entry/build.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];
const TIMEOUT = 60_000;
const SCREENSHOT = '/tmp/stratus-entry-page.png';

/** Random image bytes' checksums in all four algorithms, and the identifier they give. */
function image(): Pick<EntryDraft, 'identifier' | 'checksums'> {
  const bytes = randomBytes(64);
  const h = (a: string): string => createHash(a).update(bytes).digest('hex');
  const sha1 = h('sha1');
  return { identifier: identifierFromSha1(sha1), checksums: { MD5: h('md5'), 'SHA-1': sha1, 'SHA-256': h('sha256'), 'SHA-512': h('sha512') } };
}

// Server, signers and seed data are set up at module level: the helpers register their clean-up
// with after(), which must run when the file ends, not when a before() hook ends.
const dir = tempDir('stratus-web-ui-');
const alice = makeSigner(dir, 'Alice Builder', 'alice@example.org');
const bob = makeSigner(dir, 'Bob Packager', 'bob@example.org');
const server = await startServerProcess(join(dir, 'data'));
const url = (path: string): string => server.url + path;

async function post(xml: string): Promise<Response> {
  return fetch(url('/metadata'), { method: 'POST', headers: { 'Content-Type': 'application/xml', Accept: 'application/json' }, body: xml });
}

async function seed(xml: string): Promise<void> {
  const res = await post(xml);
  const body = await res.text();
  assert.equal(res.status, 201, `seeding failed: ${res.status} ${body}\n${server.log()}`);
}

/** Every identifier the listing holds for a status, over the JSON API (not the UI). */
async function listedIdentifiers(status = 'all'): Promise<string[]> {
  const res = await fetch(url(`/metadata?media=json&status=${status}&limit=1000`));
  assert.equal(res.status, 200);
  const body = await res.json() as { entries: Array<{ identifier: string }> };
  return body.entries.map((e) => e.identifier).sort();
}

const sorted = (...ids: string[]): string[] => [...ids].sort();

// Two endorsers, Debian and CentOS; `deprecated` is stored valid, then deprecated by a newer
// entry for the same identifier, endorser and checksums.
const t0 = new Date();
const debianA = draft({ ...image(), os: 'Debian', osVersion: '12', title: 'debian-12-base', description: 'Minimal Debian 12 with cloud-init',
  locations: ['http://images.example.org/debian-12.img.gz', 'https://mirror.example.net/stratus/debian-12.img.gz'] });
const centosA = draft({ os: 'CentOS', osVersion: '7', title: 'centos-7-web', description: 'CentOS 7 with the Apache httpd web server',
  locations: ['http://images.example.org/centos-7.img.gz'] });
const debianB = draft({ os: 'Debian', osVersion: '11', title: 'debian-11-hpc', description: 'Debian 11 with MPI compilers',
  locations: ['http://hpc.example.com/debian-11-hpc.img.gz'] });
const deprecated = draft({ os: 'CentOS', osVersion: '6', title: 'centos-6-grid', description: 'CentOS 6 grid worker node',
  locations: ['http://hpc.example.com/centos-6-grid.img.gz'] });
await seed(signedXml(alice, debianA, { now: t0 }));
await seed(signedXml(alice, centosA, { now: t0 }));
await seed(signedXml(bob, debianB, { now: t0 }));
await seed(signedXml(bob, deprecated, { now: t0 }));
await seed(signedXml(bob, { ...deprecated, deprecated: 'superseded by centos-7-web' }, { now: new Date(t0.getTime() + 60_000) }));

describe('web UI in Chromium', { timeout: 300_000 }, () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  /** The identifiers of the result rows on the page (empty when the page says "no results"). */
  async function shownIdentifiers(): Promise<string[]> {
    await page.waitForSelector('#results, #no-results', { timeout: TIMEOUT });
    return (await page.locator('#results tbody tr td.mono a').allTextContents()).map((s) => s.trim()).sort();
  }

  /** Fills the search form (every filter, so earlier values do not linger) and submits it. */
  async function search(f: { q?: string; endorser?: string; os?: string; status?: string }): Promise<string[]> {
    await page.getByLabel('Text', { exact: true }).fill(f.q ?? '');
    await page.getByLabel('Endorser', { exact: true }).fill(f.endorser ?? '');
    await page.getByLabel('OS', { exact: true }).fill(f.os ?? '');
    await page.locator('form.filters select[name=status]').selectOption(f.status ?? 'valid');
    const expected = { q: f.q ?? '', endorser: f.endorser ?? '', os: f.os ?? '', status: f.status ?? 'valid' };
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/metadata'
        && Object.entries(expected).every(([k, v]) => (u.searchParams.get(k) ?? '') === v), { timeout: TIMEOUT }),
      page.getByRole('button', { name: 'Search' }).click(),
    ]);
    return shownIdentifiers();
  }

  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: TIMEOUT });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(TIMEOUT);
    context.setDefaultNavigationTimeout(TIMEOUT);
    page = await context.newPage();
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
  });

  it('seeded the listing over HTTP', async () => {
    assert.deepEqual(await listedIdentifiers('all'), sorted(debianA.identifier, centosA.identifier, debianB.identifier, deprecated.identifier));
    assert.deepEqual(await listedIdentifiers('deprecated'), [deprecated.identifier]);
  });

  it('searches from the home page by endorser, OS, text and status', async () => {
    const res = await page.goto(url('/'));
    assert.equal(res?.status(), 200);
    assert.match(await page.title(), /Search/);

    // Default view: valid entries only; the deprecated one is hidden.
    const all = await shownIdentifiers();
    assert.deepEqual(all, sorted(debianA.identifier, centosA.identifier, debianB.identifier));
    assert.ok(!all.includes(deprecated.identifier), 'the default view hides deprecated entries');
    assert.equal(await page.locator('#results tbody tr').count(), 3);

    // By endorser.
    assert.deepEqual(await search({ endorser: 'alice@example.org' }), sorted(debianA.identifier, centosA.identifier));
    assert.equal(await page.getByLabel('Endorser', { exact: true }).inputValue(), 'alice@example.org', 'the form keeps the filter');
    const endorsers = (await page.locator('#results tbody tr td:nth-child(4)').allTextContents()).map((s) => s.trim());
    assert.deepEqual(endorsers, ['alice@example.org', 'alice@example.org']);
    assert.deepEqual(await search({ endorser: 'bob@example.org' }), [debianB.identifier]);

    // By OS (case-insensitive), alone and with an endorser.
    assert.deepEqual(await search({ os: 'Debian' }), sorted(debianA.identifier, debianB.identifier));
    assert.deepEqual(await search({ os: 'centos' }), [centosA.identifier]);
    assert.deepEqual(await search({ os: 'Debian', endorser: 'bob@example.org' }), [debianB.identifier]);
    const osCells = (await page.locator('#results tbody tr td:nth-child(1)').allTextContents()).map((s) => s.trim());
    assert.deepEqual(osCells, ['Debian']);

    // By free text.
    assert.deepEqual(await search({ q: 'apache' }), [centosA.identifier]);
    assert.deepEqual(await search({ q: 'debian cloud-init' }), [debianA.identifier]);
    assert.deepEqual(await search({ q: 'no-such-word-anywhere' }), []);
    assert.match(await page.locator('#no-results').innerText(), /No metadata entry matches/);

    // By status: only the deprecated entry, and its newest endorsement.
    assert.deepEqual(await search({ status: 'deprecated' }), [deprecated.identifier]);
    const row = page.locator('#results tbody tr');
    assert.equal(await row.count(), 1);
    assert.equal((await row.locator('.status').innerText()).trim(), 'deprecated');
    assert.match(await row.innerText(), /centos-6-grid/);
    assert.deepEqual(await search({ status: 'all' }),
      sorted(debianA.identifier, centosA.identifier, debianB.identifier, deprecated.identifier));
    assert.deepEqual(await search({ status: 'valid' }), sorted(debianA.identifier, centosA.identifier, debianB.identifier));

    // An unknown status is refused with the allowed values, rather than quietly listing everything.
    const bogus = await page.goto(url('/metadata?media=html&status=bogus'));
    assert.equal(bogus?.status(), 400);
    assert.equal((await page.locator('#error').innerText()).trim(), 'unknown status=bogus: use one of valid, expired, deprecated, all');
  });

  it('opens an entry from the results and shows its fields, checksums, locations and signature', async () => {
    await page.goto(url('/metadata?media=html&endorser=alice@example.org&os=Debian'));
    assert.deepEqual(await shownIdentifiers(), [debianA.identifier]);
    await Promise.all([
      page.waitForURL((u) => u.pathname.startsWith(`/metadata/${debianA.identifier}/`), { timeout: TIMEOUT }),
      page.getByRole('link', { name: debianA.identifier }).click(),
    ]);
    assert.equal(new URL(page.url()).searchParams.get('media'), 'html');
    assert.equal(await page.locator('h1').innerText(), 'debian-12-base');

    const field = async (name: string): Promise<string> =>
      (await page.locator('#fields tr').filter({ has: page.locator('th', { hasText: new RegExp(`^${name}$`) }) }).locator('td').innerText()).trim();
    assert.equal(await field('Identifier'), debianA.identifier);
    assert.equal(await field('Title'), 'debian-12-base');
    assert.equal(await field('Description'), 'Minimal Debian 12 with cloud-init');
    assert.equal(await field('OS'), 'Debian');
    assert.equal(await field('OS version'), '12');
    assert.equal(await field('Endorser e-mail'), 'alice@example.org');
    assert.equal(await field('Endorser subject'), alice.subject);
    assert.equal(await field('Status'), 'valid');

    const checksums = await page.locator('#checksums tr').evaluateAll((rows) =>
      rows.map((r) => [r.querySelector('th')?.textContent?.trim() ?? '', r.querySelector('td')?.textContent?.trim() ?? '']));
    assert.deepEqual(Object.fromEntries(checksums), debianA.checksums);

    const locations = (await page.locator('#locations li').allTextContents()).map((s) => s.trim());
    assert.deepEqual(locations, debianA.locations);
    for (const l of debianA.locations ?? []) assert.equal(await page.locator(`#locations a[href="${l}"]`).count(), 1);

    const verdict = page.locator('#signature-verdict');
    const text = await verdict.innerText();
    assert.match(text, /Signature valid/);
    assert.ok(text.includes(alice.subject), `the verdict names the signer "${alice.subject}": ${text}`);
    assert.match(alice.subject, /Alice Builder/);
    assert.ok(await verdict.evaluate((el) => el.classList.contains('ok')));

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });

  it('uploads a signed file through the form and finds it in the listing', async () => {
    const fresh = draft({ os: 'Debian', osVersion: '13', title: 'debian-13-uploaded', description: 'Uploaded through the browser form',
      locations: ['http://images.example.org/debian-13.img.gz'] });
    const file = join(dir, 'fresh.xml');
    writeFileSync(file, signedXml(alice, fresh));

    await page.goto(url('/upload'));
    await page.locator('#upload input[type=file]').setInputFiles(file);
    await Promise.all([
      page.waitForSelector('#created', { timeout: TIMEOUT }),
      page.locator('#upload button[type=submit]').click(),
    ]);
    assert.match(await page.locator('#created').innerText(), /created/);
    const link = page.locator('#entry-link');
    assert.ok((await link.innerText()).startsWith(`/metadata/${fresh.identifier}/alice@example.org/`));

    await Promise.all([
      page.waitForURL((u) => u.pathname.startsWith(`/metadata/${fresh.identifier}/`), { timeout: TIMEOUT }),
      link.click(),
    ]);
    assert.equal(await page.locator('h1').innerText(), 'debian-13-uploaded');
    assert.match(await page.locator('#signature-verdict').innerText(), /Signature valid/);

    // Back to search through the header, then find it.
    await Promise.all([
      page.waitForURL((u) => u.pathname === '/metadata', { timeout: TIMEOUT }),
      page.locator('header').getByRole('link', { name: 'Search' }).click(),
    ]);
    const listed = await shownIdentifiers();
    assert.ok(listed.includes(fresh.identifier), 'the uploaded entry is listed');
    assert.equal(listed.length, 4);
    assert.deepEqual(await search({ q: 'browser' }), [fresh.identifier]);
    assert.deepEqual(await search({ os: 'Debian', endorser: 'alice@example.org' }), sorted(debianA.identifier, fresh.identifier));
  });

  it('refuses tampered and unsigned uploads with the server message, and lists nothing new', async () => {
    const stored = await listedIdentifiers('all');

    const tamperedDraft = draft({ title: 'tampered-image', description: 'A file edited after signing' });
    const signed = signedXml(bob, tamperedDraft);
    assert.ok(signed.includes('<dcterms:title>tampered-image</dcterms:title>'));
    const tampered = join(dir, 'tampered.xml');
    writeFileSync(tampered, signed.replace('<dcterms:title>tampered-image</dcterms:title>', '<dcterms:title>tampered-imagf</dcterms:title>'));
    const unsigned = join(dir, 'unsigned.xml');
    writeFileSync(unsigned, buildEntryXml(draft({ title: 'unsigned-image' })));

    const refused = async (file: string): Promise<string> => {
      await page.goto(url('/upload'));
      await page.locator('#upload input[type=file]').setInputFiles(file);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/metadata', { timeout: TIMEOUT }),
        page.locator('#upload button[type=submit]').click(),
      ]);
      await page.waitForSelector('#error', { timeout: TIMEOUT });
      assert.ok(response.status() >= 400 && response.status() < 500, `refused with a 4xx, got ${response.status()}`);
      assert.equal(await page.locator('#created').count(), 0);
      return (await page.locator('#error').innerText()).trim();
    };

    const tamperedMessage = await refused(tampered);
    assert.match(tamperedMessage, /invalid metadata/);
    assert.match(tamperedMessage, /signature validation/);

    const unsignedMessage = await refused(unsigned);
    assert.match(unsignedMessage, /invalid metadata: no signature/);

    // The error page offers the way back.
    assert.equal(await page.getByRole('link', { name: 'Upload another file' }).count(), 1);

    assert.deepEqual(await listedIdentifiers('all'), stored, 'nothing new was stored');
    await page.goto(url('/metadata?media=html&status=all'));
    const shown = await shownIdentifiers();
    assert.deepEqual(shown, stored);
    assert.ok(!shown.includes(tamperedDraft.identifier));
    assert.deepEqual(await search({ q: 'tampered', status: 'all' }), []);
    assert.deepEqual(await search({ q: 'unsigned', status: 'all' }), []);
  });
});
