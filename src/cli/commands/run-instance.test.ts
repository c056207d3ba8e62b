import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStratusError } from '../../domain/errors.js';
import { vncPort } from './run-instance.js';

test('--vnc-port: -1 (the cloud picks, StratusLab\'s default) or a port number; anything else is a usage error naming the value', () => {
  assert.equal(vncPort('-1'), -1);
  assert.equal(vncPort('5901'), 5901);
  assert.equal(vncPort(' 65535 '), 65535);
  for (const bad of ['0', '-2', '65536', '5900.5', 'auto', '', '1e4', '0x1700']) {
    assert.throws(() => vncPort(bad), (e) => isStratusError(e, 'USAGE') && e.message === `--vnc-port must be -1 (the cloud picks a free port) or a port number, not ${bad}`);
  }
});
