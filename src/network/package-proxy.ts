import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { endLeftover, run } from '../platform/run.js';
import { waitForListener } from '../platform/probe.js';

export interface PackageProxyOptions {
  /** Folder for the proxy's cache, logs, pid file and socket (kept across runs: it is a cache). */
  dir: string;
  /** The bridge address: the proxy listens there only, never on the host's other addresses. */
  bindAddress: string;
  port: number;
  /** Where Debian packages come from (default http://deb.debian.org/debian/). */
  debianBackend?: string;
}

/**
 * apt-cacher-ng, run by the server for its guests, so `apt-get install` works inside them as it
 * did on StratusLab while guests reach nothing else. Its own instance, not the system service:
 * it listens only on the bridge address, keeps its files in `dir`, runs as the package's
 * unprivileged user, serves only the archives its configuration maps (ForceManaged: Debian's,
 * Ubuntu's …, never an arbitrary URL) and tunnels nothing (no CONNECT).
 */
export class PackageProxy {
  private stopping = false;

  private constructor(private readonly child: ChildProcess, readonly url: string) {}

  static async start(o: PackageProxyOptions): Promise<PackageProxy> {
    // apt-cacher-ng 3.7 (bookworm) fails to bind any port above 32767 ("Error resolving
    // address for binding"), whatever the address.
    if (!Number.isInteger(o.port) || o.port < 1 || o.port > 32767) {
      throw new StratusError('CONFIG_INVALID', `package proxy port ${o.port} is out of range: apt-cacher-ng binds ports 1–32767 only`, { hint: 'Use the default, 3142, or another port below 32768.' });
    }
    const user = await proxyUser();
    // One a server killed before it could stop it still holds the port (and would outlive the folder).
    await endLeftover(join(o.dir, 'run', 'pid'), 'apt-cacher-ng', `PidFile=${join(o.dir, 'run', 'pid')}`);
    mkdirSync(o.dir, { recursive: true, mode: 0o755 });
    for (const sub of ['cache', 'log', 'run']) {
      mkdirSync(join(o.dir, sub), { recursive: true, mode: 0o750 });
      chownSync(join(o.dir, sub), user.uid, user.gid);
    }
    const args = [
      '-c', '/etc/apt-cacher-ng', 'ForeGround=1',
      `Port=${o.port}`, `BindAddress=${o.bindAddress}`,
      `CacheDir=${join(o.dir, 'cache')}`, `LogDir=${join(o.dir, 'log')}`,
      `PidFile=${join(o.dir, 'run', 'pid')}`, `SocketPath=${join(o.dir, 'run', 'socket')}`,
      'ForceManaged=1', 'PassThroughPattern=^$never',
      // No report page: its maintenance actions (expire, scan) would be the guests' to press.
      'ReportPage=',
      // Debian's own CDN as the backend: the packaged mirror list would send requests to
      // ftp.debian.org and other mirrors a restricted host may not reach (or resolve).
      `Remap-debrep=file:deb_mirror*.gz /debian ; ${o.debianBackend ?? 'http://deb.debian.org/debian/'}`,
    ];
    const child = spawn('apt-cacher-ng', args, { uid: user.uid, gid: user.gid, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<never>((_resolve, reject) => {
      child.once('error', (e: NodeJS.ErrnoException) => reject(new StratusError('TOOL_FAILED', `cannot run apt-cacher-ng: ${e.code === 'ENOENT' ? 'not installed (Debian package apt-cacher-ng)' : e.message}`)));
      child.once('exit', (code, signal) => reject(new StratusError('TOOL_FAILED', `apt-cacher-ng exited at start (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-2).join(' ') || 'no message'}`, {
        hint: `It runs as user apt-cacher-ng: every folder above ${o.dir} must be searchable by that user (mode o+x), and the port free on ${o.bindAddress}.`,
      })));
    });
    try {
      await Promise.race([waitForListener(o.bindAddress, o.port, 15_000).catch(() => {
        throw new StratusError('TOOL_FAILED', `apt-cacher-ng did not listen on ${o.bindAddress}:${o.port} within 15 s`);
      }), exited]);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    exited.catch(() => undefined);
    return new PackageProxy(child, `http://${o.bindAddress}:${o.port}`);
  }

  async stop(): Promise<void> {
    if (this.stopping || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.stopping = true;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

async function proxyUser(): Promise<{ uid: number; gid: number }> {
  try {
    const uid = Number((await run('id', ['-u', 'apt-cacher-ng'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'apt-cacher-ng'])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new StratusError('TOOL_FAILED', 'the apt-cacher-ng user does not exist: the package proxy is not installed', { hint: 'npm run setup installs the Debian package apt-cacher-ng.' });
  }
}
