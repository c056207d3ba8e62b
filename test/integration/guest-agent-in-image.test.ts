/**
 * Booted bases are made only of images with qemu-guest-agent, checked offline before anything
 * boots: the debian-12 base image has it, ttylinux has not (it would boot a VM for nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imageHasFile } from '../../src/images/index.js';
import { recipeImage } from '../helpers/vm.js';

test('the guest agent in base images, read offline: debian-12 has /usr/sbin/qemu-ga, ttylinux has not', async () => {
  const debian = await recipeImage('debian-12');
  const tty = await recipeImage('ttylinux');
  assert.equal(await imageHasFile(debian.path, '/usr/sbin/qemu-ga'), true);
  assert.equal(await imageHasFile(tty.path, '/usr/sbin/qemu-ga'), false);
  assert.equal(await imageHasFile(debian.path, '/usr/sbin/no-such-program'), false);
  assert.equal(await imageHasFile('/dev/null', '/usr/sbin/qemu-ga'), false, 'an unreadable image has nothing');
});
