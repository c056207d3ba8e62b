import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from './cli.js';
import type { CliResult } from './cli.js';
import { startServerProcess } from './server.js';
import type { ServerProcess } from './server.js';
import { draft, makeSigner, signedXml } from './signing.js';
import { tempDir } from './tmp.js';
import { addAccount } from './cloud.js';

/** The four options stratus-create-image requires. */
export const REQUIRED = ['--title', 'My first image', '--comment', 'create image test', '--author', 'Joe Builder', '--author-email', 'builder@example.org'];

export interface CreateImageWorld {
  dir: string;
  server: ServerProcess;
  /** Publishes a signed entry for `os` whose image is never fetched; returns its identifier. */
  publish(os: string): Promise<string>;
  /** stratus-create-image as alice, with -k and her credentials. */
  createImage(args: string[]): Promise<CliResult>;
  /** Asserts alice has no instance and no volume. */
  nothingLeft(): Promise<void>;
}

/**
 * A real `stratus serve` with an account (alice) and a key pair, for create-image's refusals:
 * none of them may start a VM, so the entries point at images that are never fetched.
 */
export async function createImageWorld(): Promise<CreateImageWorld> {
  const dir = tempDir();
  const admin = { username: 'admin', password: 'admin-create-image-1' };
  const server = await startServerProcess(join(dir, 'data'), [], { STRATUS_ADMIN_PASSWORD: admin.password });
  await addAccount(server.url, admin, 'alice', 'alice-pass-1');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_ed25519')]);
  const signer = makeSigner(dir, 'Good Builder', 'good@example.org');
  const basic = `Basic ${Buffer.from(`${admin.username}:${admin.password}`).toString('base64')}`;
  return {
    dir, server,
    publish: async (os) => {
      const entry = draft({ os, locations: ['http://images.example.org/never-fetched.img.gz'] });
      const res = await fetch(`${server.url}/metadata`, { method: 'POST', body: signedXml(signer, entry), headers: { 'content-type': 'application/xml' } });
      assert.equal(res.status, 201, await res.text());
      return entry.identifier;
    },
    createImage: (args) => runCli(['create-image', '-k', join(dir, 'id_ed25519.pub'), ...args], {
      cwd: dir, home: dir, env: { STRATUSLAB_ENDPOINT: server.url, STRATUSLAB_USERNAME: 'alice', STRATUSLAB_PASSWORD: 'alice-pass-1' },
    }),
    nothingLeft: async () => {
      for (const path of ['/instances', '/pswd/disks/']) {
        const res = await fetch(`${server.url}${path}`, { headers: { accept: 'application/json', authorization: basic } });
        const items = await res.json() as Array<{ owner?: string }>;
        assert.deepEqual(items.filter((i) => i.owner === 'alice'), [], `${path}: nothing of alice's`);
      }
    },
  };
}

/** A refusal: exit 1 and the message as the first line of stderr. */
export function refused(r: CliResult, message: string): void {
  assert.equal(r.code, 1, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stderr.split('\n')[0], `  [ERROR] ${message}`, r.stderr);
}
