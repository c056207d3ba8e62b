/**
 * `npm run demo`: the seed's workflow as far as it is built, on the embedded default (one
 * local `stratus serve` with SQLite). Every step runs the real stratus-* command from the PATH
 * and shows it, so the output reads like the user guide.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { adminPasswordFile } from '../src/platform/data-dir.js';
import { cacheRoot } from '../src/platform/data-dir.js';

const work = mkdtempSync(join(tmpdir(), 'stratus-demo-'));
const keep = process.env.DEMO_KEEP === '1';
// The commands run with HOME set to the demo's folder; the base images stay in the real cache.
const imageCache = cacheRoot();
let server: ChildProcess | undefined;

function banner(text: string): void {
  const bar = ':'.repeat(text.length + 6);
  process.stdout.write(`\n ${bar}\n :: ${text} ::\n ${bar}\n`);
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): string {
  process.stdout.write(`\n$ ${[cmd, ...args.map((a) => (/[\s'"#]/.test(a) ? `'${a}'` : a))].join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: work, env: { ...process.env, HOME: work, STRATUS_CACHE_DIR: imageCache, ...env }, encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message} (did npm run setup put it on the PATH?)`);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) throw new Error(`${cmd} exited with ${r.status}`);
  return r.stdout;
}

async function startServer(): Promise<string> {
  server = spawn('stratus', ['serve', '--data-dir', join(work, 'server'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`stratus serve did not start: ${out}`)), 20_000);
    server?.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /Stratus serving (https?:\/\/\S+?)\/? /.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        process.stdout.write(out);
        resolve(m[1]);
      }
    });
    server?.on('exit', (code) => reject(new Error(`stratus serve exited with ${code}: ${out}`)));
  });
}

/** The guide's web-server example ("Contextualization") on ttylinux, whose busybox httpd stands in for Apache. */
async function webServer(identifier: string, account: Record<string, string>): Promise<void> {
  banner('Running an instance: the guide\'s web-server example on ttylinux');
  run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'demo', '-f', join(work, 'id_rsa')]);
  writeFileSync(join(work, 'run-http.sh'), '#!/bin/sh -x\nmkdir -p /var/www/html\ncat > /var/www/html/test.txt <<EOF\nSUCCESSFUL TEST\nEOF\nbusybox httpd -p 80 -h /var/www/html\n');
  process.stdout.write(`\n$ cat run-http.sh\n${readFileSync(join(work, 'run-http.sh'), 'utf8')}`);
  const out = run('stratus-run-instance', ['--ram', '256', '--cloud-init', 'ssh,$HOME/id_rsa.pub#x-shellscript,run-http.sh', identifier], account);
  const m = /vm ID: (\d+)\)\n\tPublic ip: (\S+)/.exec(out);
  if (!m) throw new Error('stratus-run-instance printed no vm ID');
  const [, id, ip] = m as unknown as [string, string, string];
  try {
    run('stratus-describe-instance', [], account);
    process.stdout.write(`\n$ curl http://${ip}/test.txt\n`);
    const deadline = Date.now() + 180_000;
    for (;;) {
      const res = await fetch(`http://${ip}/test.txt`, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
      if (res?.ok) {
        process.stdout.write(await res.text());
        break;
      }
      if (Date.now() > deadline) throw new Error(`http://${ip}/test.txt did not answer within 180 s`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    run('stratus-connect-instance', ['-k', join(work, 'id_rsa'), id, '--', 'uname', '-a'], account);

    banner('A persistent disk on the running instance: stratus-attach-volume');
    const volume = /^DISK (\S+)/.exec(run('stratus-create-volume', ['-s', '1', '-t', 'demo data'], account))?.[1];
    if (!volume) throw new Error('stratus-create-volume printed no DISK line');
    run('stratus-attach-volume', ['-i', id, volume], account);
    // The guest names disks in the order they arrive; the serial (the volume's UUID) finds it.
    run('stratus-connect-instance', ['-k', join(work, 'id_rsa'), id, '--', 'sleep 2; grep -H . /sys/block/vd*/serial'], account);
    run('stratus-detach-volume', ['-i', id, volume], account);
    run('stratus-delete-volume', [volume], account);
  } finally {
    run('stratus-kill-instance', ['-v', id], account);
  }
}

/** The guide's "Creating Images", automated process: a script on ttylinux, the mail, the volume, and the new image run at once. */
function createImage(identifier: string, account: Record<string, string>, dataDir: string): void {
  banner('Creating an image: stratus-create-image (ttylinux, a setup script)');
  writeFileSync(join(work, 'setup.sh'), '#!/bin/sh\n# the guide\'s advice: no cached network rules in the saved image\nrm -f /lib/udev/rules.d/*net-gen* /etc/udev/rules.d/*net.rules\necho "Cloudy Weather Expected" > /root/cloud.txt\n');
  process.stdout.write(`\n$ cat setup.sh\n${readFileSync(join(work, 'setup.sh'), 'utf8')}`);
  const out = run('stratus-create-image', ['-k', join(work, 'id_rsa.pub'), '--ram', '256', '-s', 'setup.sh', '--title', 'ttylinux with cloud.txt',
    '--comment', 'the demo\'s image', '--author', 'Jane Tester', '--author-email', 'jane@example.org', identifier], account);
  const vm = / :: Machine 1 \(vm ID: (\d+)\)/.exec(out)?.[1];
  const described = vm ? run('stratus-describe-instance', ['-v', vm], account) : '';
  const newId = /MARKETPLACE_AND_IMAGEID \S+ (\S{27})/.exec(described)?.[1];
  if (!newId) throw new Error('the saved instance names no new image');
  const outbox = join(dataDir, 'outbox');
  process.stdout.write(`\n$ grep -h ^Subject: ${outbox}/*.eml\n`);
  for (const f of readdirSync(outbox)) process.stdout.write(`${/^Subject: .*$/m.exec(readFileSync(join(outbox, f), 'utf8'))?.[0] ?? ''}\n`);
  run('stratus-describe-volumes', [], account);
  const started = run('stratus-run-instance', ['-q', '-k', join(work, 'id_rsa.pub'), '--ram', '256', newId], account);
  const id = started.split(',')[0]?.trim() ?? '';
  try {
    run('stratus-connect-instance', ['-k', join(work, 'id_rsa'), id, '--', 'cat /root/cloud.txt'], account);
  } finally {
    run('stratus-kill-instance', [id], account);
  }
}

/** The seed's last two sections: a disk made elsewhere (a VDI stands for VirtualBox's), converted, then checked against the checklist. */
function foreignDisk(): void {
  banner('Converting a VirtualBox image, and checking it: stratus-convert-image, stratus-check-image');
  run('qemu-img', ['convert', '-f', 'raw', '-O', 'vdi', 'ttylinux.img', 'mydisk.vdi']);
  run('stratus-convert-image', ['--identifier', 'mydisk.vdi', 'mydisk.img.gz']);
  run('stratus-check-image', ['mydisk.img.gz']);
  run('stratus-check-image', ['--sysprep', 'mydisk-clean.img', 'mydisk.img.gz']);
}

async function main(): Promise<void> {
  banner('Starting the Stratus server (SQLite, loopback)');
  const url = await startServer();
  mkdirSync(join(work, '.stratuslab'));
  writeFileSync(join(work, '.stratuslab', 'stratuslab-user.cfg'), `[default]\nmarketplace_endpoint = ${url}\np12_certificate = ${join(work, 'joe.p12')}\np12_password = XYZXYZ\n`);
  process.stdout.write(`\nUser config ~/.stratuslab/stratuslab-user.cfg points at ${url}\n`);

  banner('Base images, built from Debian packages and endorsed by the builder');
  const dataDir = join(work, 'server');
  for (const recipe of ['ttylinux', 'debian-12']) {
    run('stratus-build-base-image', ['--recipe', recipe, '--data-dir', dataDir, '--marketplace-endpoint', url]);
  }

  banner('Finding available images: by the builder\'s endorsement');
  const found = run('stratus-search-image', ['--email', 'hudson.builder@stratuslab.eu', '--json']);
  const tiny = (JSON.parse(found) as Array<{ identifier: string; os: string }>).find((e) => e.os === 'ttylinux');
  run('stratus-search-image', ['--email', 'hudson.builder@stratuslab.eu']);
  const admin = { STRATUSLAB_USERNAME: 'admin', STRATUSLAB_PASSWORD: readFileSync(adminPasswordFile(dataDir), 'utf8').trim(), STRATUSLAB_PDISK_ENDPOINT: url };
  run('stratus-describe-volumes', [], admin);
  if (tiny) run('stratus-download-image', ['-o', 'ttylinux.img', tiny.identifier], admin);

  if (tiny) await webServer(tiny.identifier, admin);
  if (tiny) createImage(tiny.identifier, admin, dataDir);
  if (tiny) foreignDisk();

  banner('A signing certificate for the endorser');
  run('stratus-generate-p12', ['--common-name', 'Joe Builder', '--email', 'builder@example.org', '--output', 'joe.p12']);

  banner('Describing an image: stratus-build-metadata');
  const image = randomBytes(8 * 1024 * 1024);
  writeFileSync(join(work, 'ubuntu-24.04-x86_64-base-2.0.img.gz'), gzipSync(image, { level: 1 }));
  run('stratus-build-metadata', ['--os', 'Ubuntu', '--os-version', '24.04', '--os-arch', 'x86_64', '--image-version', '2.0',
    '--author', 'Joe Builder', '--title', 'My first image', '--comment', 'ubuntu create image test: apache2 and a home page',
    '--location', 'http://images.example.org/ubuntu-24.04-x86_64-base-2.0.img.gz', '--inbound-port', '22', '--inbound-port', '80',
    'ubuntu-24.04-x86_64-base-2.0.img.gz']);
  const xml = 'Ubuntu-24.04-x86_64-base-2.0.xml';
  run('stratus-validate-metadata', ['--allow-unsigned', xml]);

  banner('Signing and publishing: stratus-sign-metadata, stratus-upload-metadata');
  run('stratus-sign-metadata', [xml]);
  run('stratus-validate-metadata', [xml]);
  const entryUrl = run('stratus-upload-metadata', [xml]).trim();
  const id = entryUrl.split('/metadata/')[1]?.split('/')[0] ?? '';

  banner('Finding images: by endorser, OS and free text');
  run('stratus-list-images', []);
  run('stratus-search-image', ['--email', 'builder@example.org', '--os', 'ubuntu']);
  run('stratus-search-image', ['--text', 'apache2']);
  run('stratus-manifest', ['-e', 'location', id]);

  banner('Deprecating it: the entry leaves the default listing, its URL still answers');
  run('stratus-deprecate-metadata', ['--email', 'builder@example.org', '--reason', 'superseded by 2.1', id]);
  run('stratus-list-images', ['--status', 'deprecated']);
  const res = await fetch(entryUrl, { headers: { accept: 'application/json' } });
  process.stdout.write(`\nGET ${entryUrl} -> ${res.status} (${((await res.json()) as { status: string }).status})\n`);

  banner('Web UI');
  process.stdout.write(`Search: ${url}/   Upload: ${url}/upload   Entry: ${entryUrl}?media=html\n`);
  if (keep) {
    process.stdout.write('\nDEMO_KEEP=1: the server keeps running; press Ctrl-C to stop.\n');
    await new Promise(() => undefined);
  }
}

main().then(() => {
  process.stdout.write('\nDemo finished. (Run with DEMO_KEEP=1 to keep the server and browse the web UI.)\n');
}, (e: unknown) => {
  process.stderr.write(`\n  [ERROR] demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}).finally(async () => {
  // The server removes its bridge and proxy as it stops: wait for it.
  if (server && server.exitCode === null) await new Promise((r) => { server?.once('exit', r); server?.kill('SIGTERM'); });
  if (!keep) rmSync(work, { recursive: true, force: true });
});
