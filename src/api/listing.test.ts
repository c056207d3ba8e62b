import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_XML_LIMIT, listingFromParams } from './listing.js';

test('default page sizes: 1000 for XML (it was 10 000, which let one listing outgrow a string), 100 for JSON, 25 for HTML; at most 10 000 asked', () => {
  assert.equal(DEFAULT_XML_LIMIT, 1000);
  assert.equal(listingFromParams({}, [], 'xml').query.limit, 1000);
  assert.equal(listingFromParams({}, [], 'json').query.limit, 100);
  assert.equal(listingFromParams({}, [], 'html').query.limit, 25);
  assert.equal(listingFromParams({ limit: '50000' }, [], 'xml').query.limit, 10_000);
});
