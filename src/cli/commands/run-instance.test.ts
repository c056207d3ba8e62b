import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStratusError } from '../../domain/errors.js';
import { saveVmName } from '../../domain/instance-wire.js';
import { saveOf } from './run-instance.js';
import { vncPort } from '../runnable.js';

test('--vnc-port: -1 (the cloud picks, StratusLab\'s default) or a port number; anything else is a usage error naming the value', () => {
  assert.equal(vncPort('-1'), -1);
  assert.equal(vncPort('5901'), 5901);
  assert.equal(vncPort(' 65535 '), 65535);
  for (const bad of ['0', '-2', '65536', '5900.5', 'auto', '', '1e4', '0x1700']) {
    assert.throws(() => vncPort(bad), (e) => isStratusError(e, 'USAGE') && e.message === `--vnc-port must be -1 (the cloud picks a free port) or a port number, not ${bad}`);
  }
});

const SAVE = { save: true, author: 'Jane Tester', authorEmail: 'jane@example.org', imageVersion: '1.1', title: 'ttylinux with cloud.txt', comment: 'adds /root/cloud.txt' };

test('--save: each of the five options is required, in StratusLab\'s words naming the option', () => {
  const missing: Array<[keyof typeof SAVE, string]> = [
    ['author', 'With the --save option, please provide the author of the new image (--author)'],
    ['authorEmail', 'With the --save option, please provide the author\'s e-mail address (--author-email)'],
    ['imageVersion', 'With the --save option, please provide the version of the new image (--image-version)'],
    ['title', 'With the --save option, please provide a title for the new image (--title)'],
    ['comment', 'With the --save option, please provide a comment describing the new image (--comment)'],
  ];
  for (const [key, message] of missing) {
    const { [key]: _dropped, ...rest } = SAVE;
    assert.throws(() => saveOf(rest), (e) => isStratusError(e, 'USAGE') && e.message === message, key);
    // Blank is missing too: a draft entry with an empty title or creator is no use.
    assert.throws(() => saveOf({ ...SAVE, [key]: '  ' }), (e) => isStratusError(e, 'USAGE') && e.message === message, `${key} blank`);
  }
});

test('--save: the options are sent trimmed; --marketplace-endpoint-newimage must be an http(s) URL; the e-mail an address', () => {
  assert.deepEqual(saveOf({ ...SAVE, title: ' t ' }), { author: 'Jane Tester', authorEmail: 'jane@example.org', imageVersion: '1.1', title: 't', comment: 'adds /root/cloud.txt' });
  assert.equal(saveOf({ ...SAVE, marketplaceEndpointNewimage: 'https://mp.example.org' })?.marketplace, 'https://mp.example.org');
  assert.throws(() => saveOf({ ...SAVE, marketplaceEndpointNewimage: 'file:///etc/passwd' }), (e) => isStratusError(e, 'USAGE') && /--marketplace-endpoint-newimage must be an http\(s\) URL/.test(e.message));
  assert.throws(() => saveOf({ ...SAVE, authorEmail: 'jane' }), (e) => isStratusError(e, 'USAGE') && e.message === '--author-email must be an e-mail address, not jane');
  assert.throws(() => saveOf({ ...SAVE, title: 'x'.repeat(1025) }), (e) => isStratusError(e, 'USAGE') && /--title is longer than 1024/.test(e.message));
});

test('without --save the save options are ignored (no request is made to save)', () => {
  assert.equal(saveOf({ author: 'Jane' }), undefined);
});

test('a --save VM is named "creator: <UTC time>", as the seed shows (creator: 2012-12-04T07:58:25Z)', () => {
  assert.equal(saveVmName(new Date('2012-12-04T07:58:25.123Z')), 'creator: 2012-12-04T07:58:25Z');
});
