import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pathOf, pdiskRoutes, marketplaceRoutes, routeTable, userRoutes } from './index.js';
import { codesWithStatus, errorResponse } from './route.js';

test('pathOf fills the template with encoded parameters and appends the query', () => {
  const cases: Array<{ why: string; got: string; want: string }> = [
    { why: 'a plain parameter', got: pathOf(pdiskRoutes.get, { uuid: 'abc' }), want: '/pswd/disks/abc' },
    { why: 'a slash or ? in a value cannot reach another route', got: pathOf(userRoutes.password, { name: 'a/b?c' }), want: '/users/a%2Fb%3Fc/password' },
    { why: 'e-mails keep their @ encoded, as encodeURIComponent does', got: pathOf(marketplaceRoutes.tag, { email: 'j@x.org', tag: 'a b' }), want: '/tag/j%40x.org/a%20b' },
    { why: 'several parameters, in order', got: pathOf(pdiskRoutes.unmount, { uuid: 'u', mount: 'u_7' }), want: '/pswd/disks/u/mounts/u_7' },
    { why: 'undefined and empty query values are left out', got: pathOf(marketplaceRoutes.list, {}, { status: 'all', os: '', q: undefined, limit: 5 }), want: '/metadata?status=all&limit=5' },
    { why: 'no query, no ?', got: pathOf(pdiskRoutes.create, {}, {}), want: '/pswd/disks/' },
  ];
  for (const c of cases) assert.equal(c.got, c.want, c.why);
  assert.throws(() => pathOf(pdiskRoutes.get, {} as { uuid: string }), /pathOf\(volumes.get\): no value for :uuid/);
});

test('the table is consistent: unique names and routes, every path parameter declared, every status answered', () => {
  const names = routeTable.map((r) => r.name);
  assert.equal(new Set(names).size, names.length, 'names are unique');
  const routes = routeTable.flatMap((r) => [r.path, ...(r.aliases ?? [])].map((p) => `${r.method} ${p.replace(/:\w+/g, ':').replace(/\/$/, '')}`));
  assert.equal(new Set(routes).size, routes.length, 'no two entries claim the same method and path');
  for (const r of routeTable) {
    const inPath = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]).sort();
    const declared = Object.keys((r.params?.properties ?? {}) as object).sort();
    assert.deepEqual(declared, inPath, `${r.name}: the params schema names the template's parameters`);
    assert.ok(Object.keys(r.responses).some((s) => Number(s) < 400), `${r.name}: has a success answer`);
    assert.ok(r.responses[500], `${r.name}: INTERNAL is documented`);
    if (r.method !== 'GET') assert.ok(r.responses[403] && r.responses[415], `${r.name}: the cross-site and body-kind refusals are documented`);
    if (r.access !== 'public') assert.ok(r.responses[401], `${r.name}: 401 is documented`);
  }
});

test('an error answer lists exactly the codes of its status', () => {
  assert.deepEqual(codesWithStatus(401), ['AUTH_REQUIRED']);
  const json = errorResponse(404).content?.['application/json'] as { properties: Record<string, { enum?: string[] }>; required: string[] };
  assert.ok(json.properties.code?.enum?.includes('VOLUME_NOT_FOUND'));
  assert.ok(!json.properties.code?.enum?.includes('USAGE'));
  assert.deepEqual(json.required, ['404', 'code', 'hint']);
  assert.deepEqual(Object.keys(errorResponse(400).content ?? {}), ['application/json', 'application/xml', 'text/html', 'text/plain']);
});
