/**
 * stratus-create-image runs the packages and repositories the user names in a root shell on
 * the guest. Attempts to smuggle shell syntax or apt options through them are refused before
 * any VM starts, against a real `stratus serve` with a real Debian entry that would otherwise
 * boot. (What is quoted rather than refused, a script's arguments, is proved in a guest by
 * test/vm/create-image-ttylinux.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REQUIRED, createImageWorld, refused } from '../helpers/create-image.js';

const w = await createImageWorld();
const debian = await w.publish('Debian');

test('-a with shell syntax or an option in a package name is refused before any VM (vim;touch /tmp/pwned)', async () => {
  const attempts = ['vim;touch /tmp/pwned', 'vim && touch /tmp/pwned', '$(touch /tmp/pwned)', '`touch /tmp/pwned`', 'vim|sh', '-oDpkg::Pre-Invoke::=touch${IFS}/tmp/pwned', "vim'"];
  for (const bad of attempts) {
    const r = await w.createImage([...REQUIRED, '-a', `apache2,${bad}`, debian]);
    refused(r, `-a/--packages: ${JSON.stringify(bad)} is not a package name`);
    assert.equal(r.stdout, '', 'nothing started');
  }
  await w.nothingLeft();
});

test('--extra-os-repos with quotes, command substitution or a second line is refused before any VM', async () => {
  for (const bad of ["http://deb.example.org/';touch /tmp/pwned;'", 'http://deb.example.org/`touch${IFS}/tmp/pwned`', 'http://deb.example.org/debian bookworm$(reboot)', 'http://deb.example.org/debian\n[evil]\nbaseurl=http://evil.example.org']) {
    const r = await w.createImage([...REQUIRED, '--extra-os-repos', bad, '-a', 'vim', debian]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^ {2}\[ERROR\] --extra-os-repos: /);
  }
  await w.nothingLeft();
});
