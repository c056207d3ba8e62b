/**
 * The confirmation links in a real browser (Debian's Chromium through playwright-core): the
 * endorser opens the mailed link, which stores nothing; the page's button posts to the same
 * address through the server's cross-site check and the page's CSP, and the entry is stored.
 * The upload itself goes through the web UI's form.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';
import { storedEntries } from '../helpers/upload.js';
import { readConfirmation, startConfirmingServer } from '../helpers/confirmation.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];
const TIMEOUT = 60_000;

const dir = tempDir('stratus-confirm-web-');
const bob = makeSigner(dir, 'Bob Outside', 'bob@example.org');
const server = await startConfirmingServer(dir, 'data');
const outbox = join(server.dataDir, 'outbox');

describe('confirmation links in Chromium', { timeout: 300_000 }, () => {
  let browser: Browser;
  let page: Page;

  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: TIMEOUT });
    const context = await browser.newContext();
    context.setDefaultTimeout(TIMEOUT);
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
  });

  async function uploadThroughForm(): Promise<{ id: string; confirm: string; abort: string }> {
    const entry = draft();
    const file = join(dir, `${entry.identifier}.xml`);
    writeFileSync(file, signedXml(bob, entry));
    await page.goto(`${server.url}/upload`);
    await page.setInputFiles('input[type=file]', file);
    await Promise.all([page.waitForSelector('#pending'), page.getByRole('button', { name: 'Upload' }).click()]);
    assert.equal(await page.locator('#to').textContent(), bob.email);
    const newest = readdirSync(outbox).filter((n) => n.endsWith('.eml')).sort().at(-1) ?? '';
    const mail = readConfirmation(readFileSync(join(outbox, newest), 'utf8'));
    return { id: entry.identifier, confirm: mail.confirm, abort: mail.abort };
  }

  it('opening the confirm link stores nothing; its button stores the entry (regression: under Referrer-Policy no-referrer the browser posted with Origin: null, refused as cross-site)', async () => {
    const { id, confirm } = await uploadThroughForm();
    const opened = await page.goto(confirm);
    assert.equal(opened?.status(), 200);
    assert.equal(await page.locator('#identifier').textContent(), id);
    assert.ok(!(await storedEntries(server.url)).some((e) => e.identifier === id), 'opening the link stored nothing');
    const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.locator('#do-action').click()]);
    assert.equal(answer.status(), 201);
    await page.waitForSelector('#created');
    assert.match(await page.locator('#entry-link').textContent() ?? '', new RegExp(`/metadata/${id}/`));
    assert.ok((await storedEntries(server.url)).some((e) => e.identifier === id), 'stored once confirmed');
    await page.goto(confirm);
    assert.match(await page.locator('#error').textContent() ?? '', /no upload waits for confirmation under this link/);
  });

  it('the abort button drops the upload', async () => {
    const { id, abort } = await uploadThroughForm();
    await page.goto(abort);
    await Promise.all([page.waitForSelector('#done'), page.locator('#do-action').click()]);
    assert.match(await page.locator('#done').textContent() ?? '', /aborted/);
    assert.ok(!(await storedEntries(server.url)).some((e) => e.identifier === id));
  });
});
