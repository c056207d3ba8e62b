/**
 * stratus-create-image's refusals, each before any VM starts, with the real command against a
 * real `stratus serve`: the required options in StratusLab's words, an unknown base image, a
 * missing script, packages for an OS with no installer. None leaves an instance or a volume
 * behind. (Attempts to reach the guest's shell through the options: test/security/create-image.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REQUIRED, createImageWorld, refused } from '../helpers/create-image.js';

const w = await createImageWorld();
const debian = await w.publish('Debian');
const ttylinux = await w.publish('ttylinux');
writeFileSync(join(w.dir, 'setup.sh'), '#!/bin/sh\necho hi\n');

test('the four required options: each missing one gets §1.2\'s exact error, in its order, and nothing is asked of the cloud', async () => {
  const without = (option: string): string[] => {
    const i = REQUIRED.indexOf(option);
    return [...REQUIRED.slice(0, i), ...REQUIRED.slice(i + 2)];
  };
  refused(await w.createImage([debian]), 'Provide a title describing the new image');
  refused(await w.createImage([...without('--title'), debian]), 'Provide a title describing the new image');
  refused(await w.createImage([...without('--comment'), debian]), 'Provide a comment describing the new image');
  refused(await w.createImage([...without('--author'), debian]), 'Provide an author for the new image');
  refused(await w.createImage([...without('--author-email'), debian]), 'Provide a valid Email address of the author of the image.');
  const badEmail = await w.createImage([...REQUIRED.slice(0, 6), '--author-email', 'builder', debian]);
  refused(badEmail, 'Provide a valid Email address of the author of the image.');
  assert.equal(badEmail.stdout, '', 'refused before "Starting image creation"');
  refused(await w.createImage(REQUIRED), 'Missing the base image ID');
  await w.nothingLeft();
});

test('an unknown base image stops at "Checking that base image exists" with the availability check\'s message', async () => {
  const unknown = 'AAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const r = await w.createImage([...REQUIRED, unknown]);
  refused(r, `Failed to get manifest for resource uri: ${w.server.url}/metadata/${unknown}. No valid, non-deprecated entry for this image`);
  assert.equal(r.stdout, '\n :::::::::::::::::::::::::::::\n :: Starting image creation ::\n :::::::::::::::::::::::::::::\n :: Checking that base image exists\n');
  refused(await w.createImage([...REQUIRED, 'not-an-id']), 'The base image must be a Marketplace ID, not not-an-id');
  await w.nothingLeft();
});

test('a missing script is refused before anything starts, naming it', async () => {
  const r = await w.createImage([...REQUIRED, '-s', 'setup.sh,missing.sh arg', debian]);
  refused(r, 'script missing.sh (-s/--scripts): no such file');
  assert.equal(r.stdout, '');
  await w.nothingLeft();
});

test('a bad package name, repository or installer is refused before anything starts', async () => {
  refused(await w.createImage([...REQUIRED, '-a', 'apache2,two words', debian]), '-a/--packages: "two words" is not a package name');
  refused(await w.createImage([...REQUIRED, '--extra-os-repos', 'file:///etc/apt', '-a', 'vim', debian]), '--extra-os-repos: "file:///etc/apt" is not an http, https or ftp URL');
  refused(await w.createImage([...REQUIRED, '--installer', 'zypper', '-a', 'vim', debian]), '--installer must be apt, yum, dnf, not zypper');
  await w.nothingLeft();
});

test('packages for ttylinux: "Unsupported OS: ttylinux" once the manifest is read', async () => {
  const r = await w.createImage([...REQUIRED, '-a', 'vim', '-s', 'setup.sh', ttylinux]);
  refused(r, 'Unsupported OS: ttylinux');
  assert.match(r.stdout, / :: Checking that base image exists\n :: Retrieving image manifest\n$/);
  // yum's repository files take a URL only: refused as well before the VM.
  refused(await w.createImage([...REQUIRED, '--os', 'centos', '--extra-os-repos', 'http://rpm.example.org/el9 main', '-a', 'vim', ttylinux]),
    '--extra-os-repos: yum takes a base URL only, not "http://rpm.example.org/el9 main"');
  await w.nothingLeft();
});

test('the private key beside -k\'s public key must exist', async () => {
  writeFileSync(join(w.dir, 'lonely.pub'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== lonely\n');
  const r = await runCli(['create-image', '-k', join(w.dir, 'lonely.pub'), ...REQUIRED, '-s', 'setup.sh', debian], {
    cwd: w.dir, home: w.dir, env: { STRATUSLAB_ENDPOINT: w.server.url, STRATUSLAB_USERNAME: 'alice', STRATUSLAB_PASSWORD: 'alice-pass-1' },
  });
  refused(r, `SSH private key ${join(w.dir, 'lonely')}: no such file`);
  await w.nothingLeft();
});
