import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStratusError } from '../../domain/errors.js';
import { checkRequired, saveRequestOf, seconds } from './options.js';

const ALL = { title: 'My first image', comment: 'ubuntu create image test', author: 'Joe Builder', authorEmail: 'builder@example.org' };

test('the four required options, in §1.2\'s order and words; blank is missing, and the e-mail must be an address', () => {
  const cases: Array<[Partial<typeof ALL>, string]> = [
    [{}, 'Provide a title describing the new image'],
    [{ ...ALL, title: ' ' }, 'Provide a title describing the new image'],
    [{ ...ALL, comment: undefined }, 'Provide a comment describing the new image'],
    [{ ...ALL, author: '' }, 'Provide an author for the new image'],
    [{ ...ALL, authorEmail: undefined }, 'Provide a valid Email address of the author of the image.'],
    [{ ...ALL, authorEmail: 'builder' }, 'Provide a valid Email address of the author of the image.'],
    [{ ...ALL, authorEmail: 'a b@example.org' }, 'Provide a valid Email address of the author of the image.'],
  ];
  for (const [o, message] of cases) assert.throws(() => checkRequired(o), (e) => isStratusError(e, 'USAGE') && e.message === message, JSON.stringify(o));
  checkRequired(ALL);
});

test('--image-version defaults to the base image\'s with its minor part incremented', () => {
  assert.equal(saveRequestOf(ALL, '1.4').imageVersion, '1.5');
  assert.equal(saveRequestOf(ALL, '1.9').imageVersion, '1.10');
  assert.equal(saveRequestOf(ALL, undefined).imageVersion, '0.1');
  assert.equal(saveRequestOf({ ...ALL, imageVersion: '2.0' }, '1.4').imageVersion, '2.0');
  assert.deepEqual(saveRequestOf({ ...ALL, marketplaceEndpointNewimage: 'https://mp.example.org' }, '1.0'), {
    author: 'Joe Builder', authorEmail: 'builder@example.org', title: 'My first image', comment: 'ubuntu create image test', imageVersion: '1.1', marketplace: 'https://mp.example.org',
  });
  assert.throws(() => saveRequestOf({ ...ALL, marketplaceEndpointNewimage: 'file:///x' }, '1.0'), (e) => isStratusError(e, 'USAGE') && /--marketplace-endpoint-newimage must be an http\(s\) URL/.test(e.message));
});

test('timeouts are whole seconds ≥ 1', () => {
  assert.equal(seconds('600', '--vm-start-timeout'), 600);
  for (const bad of ['0', '-1', '1.5', 'ten', '']) {
    assert.throws(() => seconds(bad, '--vm-ping-timeout'), (e) => isStratusError(e, 'USAGE') && e.message === `--vm-ping-timeout must be a whole number of seconds ≥ 1, not ${bad}`);
  }
});
