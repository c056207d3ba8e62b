import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { DATA_CSP, securityHeaders } from './security-headers.js';
import { PAGE_CSP } from '../web/html.js';

test('pages get the page CSP, everything else the data CSP; a header a route set itself is kept', async () => {
  const app = Fastify();
  securityHeaders(app);
  app.get('/page', async (_req, reply) => reply.type('text/html; charset=utf-8').send('<p>hi</p>'));
  app.get('/data', async () => ({ a: 1 }));
  app.get('/own', async (_req, reply) => reply.type('application/xml').header('content-security-policy', "default-src 'none'").header('x-frame-options', 'SAMEORIGIN').send('<a/>'));
  const page = await app.inject('/page');
  assert.equal(page.headers['content-security-policy'], PAGE_CSP);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['x-frame-options'], 'DENY');
  assert.equal((await app.inject('/data')).headers['content-security-policy'], DATA_CSP);
  const own = await app.inject('/own');
  assert.equal(own.headers['content-security-policy'], "default-src 'none'");
  assert.equal(own.headers['x-frame-options'], 'SAMEORIGIN');
  assert.equal(own.headers['x-content-type-options'], 'nosniff');
  await app.close();
});

test('the page CSP allows the one style sheet the pages carry by its hash, and no script at all', () => {
  assert.match(PAGE_CSP, /style-src 'sha256-[A-Za-z0-9+/]+=*'/);
  assert.doesNotMatch(PAGE_CSP, /script-src|unsafe/);
});
