/**
 * Issue 8 §2 in a real browser: Debian's Chromium (playwright-core, no downloaded browser)
 * loads the XML listing and an entry's XML while a hostile entry is stored. Upload now refuses
 * such entries, so the entry is written into the store of a test server directly (as one
 * stored before the checks existed would be): what is proven here is the serving defence on
 * its own, nosniff and a CSP of default-src 'none'. A control serves the very same bytes
 * without those headers and watches the script run, so "nothing ran" cannot come from a
 * harness that would notice nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext } from 'playwright-core';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { signAsIs, uncheckedVerifier, unsigned } from '../helpers/forge.js';
import { postEntry } from '../helpers/upload.js';
import { openDatabase } from '../../src/storage/database.js';
import { EntryStore } from '../../src/storage/entries.js';
import { Marketplace } from '../../src/marketplace/marketplace.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic'];
const TIMEOUT = 60_000;
const XHTML = 'http://www.w3.org/1999/xhtml';
const SVG = 'http://www.w3.org/2000/svg';

// The trap: every request a hostile script makes lands here; /control serves XML without the headers.
const trapHits: string[] = [];
let controlBody = '';
const trap = createServer((req, res) => {
  if (req.url === '/control') {
    res.writeHead(200, { 'Content-Type': 'application/xml; charset=utf-8' });
    res.end(controlBody);
    return;
  }
  trapHits.push(req.url ?? '');
  res.writeHead(204, { 'Access-Control-Allow-Origin': '*' });
  res.end();
});
await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
after(() => new Promise<void>((resolve) => trap.close(() => resolve())));
const trapUrl = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;

/** Marks the page, calls the trap and opens a dialog: any one of them means it ran. */
const payload = (via: string): string =>
  `document.documentElement.setAttribute('data-pwned','${via}');fetch('${trapUrl}/pwned?via=${via}');alert('${via}')`;

const dir = tempDir('stratus-sec-browser-');
const mallory = makeSigner(dir, 'Mallory', 'mallory@example.org');
const hostile = draft({ title: 'hostile' });
const hostileXml = signAsIs(unsigned(signedXml(mallory, hostile)).replace('</rdf:Description>',
  `<ex:note xmlns:ex="urn:example:x" rdf:parseType="Resource"><html:script xmlns:html="${XHTML}">${payload('script')}</html:script></ex:note>`
  + `<ex:pic xmlns:ex="urn:example:x" rdf:parseType="Resource"><svg:svg xmlns:svg="${SVG}" onload="${payload('svg')}"/></ex:pic>`
  + `<ex:img xmlns:ex="urn:example:x" rdf:parseType="Resource"><html:img xmlns:html="${XHTML}" src="${trapUrl}/pwned?via=img" onerror="${payload('img')}"/></ex:img>`
  + '</rdf:Description>'), mallory.credentials);

// Stored the way the Marketplace stores any entry, past a verifier that checks nothing.
const dataDir = join(dir, 'data');
{
  const database = await openDatabase(join(dataDir, 'stratus.db'));
  await new Marketplace(new EntryStore(database), { verifier: uncheckedVerifier() }).publish(hostileXml);
  await database.close();
}
const server = await startServerProcess(dataDir);

describe('Chromium shows stored XML with a hostile entry and runs none of it', () => {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;

  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: TIMEOUT });
    context = await browser.newContext();
    context.setDefaultTimeout(TIMEOUT);
    context.setDefaultNavigationTimeout(TIMEOUT);
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close();
  });

  /** Loads `url` in a fresh page and reports every sign of script having run. */
  async function load(url: string): Promise<{ status: number | undefined; pwned: string | null; dialogs: string[]; hits: string[]; hostileNodes: number }> {
    const page = await (context as BrowserContext).newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const before = trapHits.length;
    const res = await page.goto(url, { waitUntil: 'load' });
    // Handlers and fetches are asynchronous: give them time to land before looking.
    await page.waitForTimeout(1500);
    const pwned = await page.evaluate(() => document.documentElement.getAttribute('data-pwned'));
    const hostileNodes = await page.evaluate(([h, s]) => document.getElementsByTagNameNS(h as string, 'script').length
      + document.getElementsByTagNameNS(s as string, 'svg').length, [XHTML, SVG]);
    await page.close();
    return { status: res?.status(), pwned, dialogs, hits: trapHits.slice(before), hostileNodes };
  }

  it('the hostile entry is stored and served (upload itself would refuse it)', async () => {
    const res = await fetch(`${server.url}/metadata/${hostile.identifier}?media=xml`);
    controlBody = await res.text();
    assert.equal(res.status, 200);
    assert.match(controlBody, /<html:script/);
    assert.equal((await postEntry(server.url, hostileXml)).code, 'METADATA_UNSAFE');
  });

  it('control: the same bytes served without the headers run the script in Chromium', async () => {
    const r = await load(`${trapUrl}/control`);
    assert.equal(r.status, 200);
    assert.notEqual(r.pwned, null, 'the control page ran a script; the harness sees it');
    assert.ok(r.hits.length > 0 || r.dialogs.length > 0);
  });

  for (const path of ['/metadata?media=xml', `/metadata/${hostile.identifier}?media=xml`, `/metadata/${hostile.identifier}`]) {
    it(`GET ${path.replace(hostile.identifier, '<id>')}: no script runs, no request leaves, no dialog opens`, async () => {
      const r = await load(server.url + path);
      assert.equal(r.status, 200);
      if (path.includes('media=xml')) assert.ok(r.hostileNodes >= 2, 'Chromium parsed the hostile markup as XML');
      assert.equal(r.pwned, null);
      assert.deepEqual(r.dialogs, []);
      assert.deepEqual(r.hits, []);
    });
  }
});
