import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StratusError } from '../domain/errors.js';
import { endLeftover, run } from '../platform/run.js';
import { writeFileAtomic } from '../platform/files.js';

export interface DhcpHost {
  mac: string;
  address: string;
  hostname: string;
}

export interface DhcpOptions {
  /** Folder for the hosts file, the lease file, the pid file and the log. */
  dir: string;
  bridge: string;
  hostAddress: string;
  /** The subnet's base address (a.b.c.0), netmask 255.255.255.0. */
  base: string;
}

/**
 * dnsmasq as a DHCP server only (no DNS: `--port=0`) on the bridge alone, answering only the
 * hosts written in its hosts file (`static`), so each instance gets exactly its fixed address
 * and a stranger on the bridge gets none. The hosts file is re-read on SIGHUP. A dnsmasq that
 * exits on its own is started again; one left by a previous server (found by its pid file,
 * and checked to be ours by its command line) is ended first.
 */
export class DhcpServer {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restarts: number[] = [];

  constructor(private readonly o: DhcpOptions) {}

  get hostsFile(): string { return join(this.o.dir, 'dhcp-hosts'); }
  get leaseFile(): string { return join(this.o.dir, 'leases'); }
  private get pidFile(): string { return join(this.o.dir, 'dnsmasq.pid'); }

  /** Writes the hosts file (temp + rename) and tells a running dnsmasq to re-read it. */
  setHosts(hosts: DhcpHost[]): void {
    writeFileAtomic(this.hostsFile, hosts.map((h) => `${h.mac.toLowerCase()},${h.address},${h.hostname}\n`).join(''));
    if (this.child?.pid) process.kill(this.child.pid, 'SIGHUP');
  }

  /**
   * Ends the lease of a guest that is gone (dnsmasq-utils' dhcp_release sends its DHCPRELEASE).
   * Without it, dnsmasq keeps the address leased to the old MAC for the lease time and refuses
   * it to the next instance that is given that address.
   */
  async release(host: { mac: string; address: string }): Promise<void> {
    if (!this.child?.pid || this.child.exitCode !== null) return;
    await run('dhcp_release', [this.o.bridge, host.address, host.mac.toLowerCase()]);
  }

  async start(): Promise<void> {
    // A dnsmasq a previous server left running for this folder (it was killed): ours, so it is ended.
    await endLeftover(this.pidFile, 'dnsmasq', `--pid-file=${this.pidFile}`);
    if (!existsSync(this.hostsFile)) this.setHosts([]);
    await this.spawnOnce();
  }

  private args(): string[] {
    const o = this.o;
    return [
      '--keep-in-foreground', '--conf-file=/dev/null', '--port=0',
      `--interface=${o.bridge}`, '--bind-interfaces', '--except-interface=lo',
      `--dhcp-range=${o.base},static,255.255.255.0,12h`,
      `--dhcp-option=option:router,${o.hostAddress}`,
      `--dhcp-hostsfile=${this.hostsFile}`, `--dhcp-leasefile=${this.leaseFile}`,
      `--pid-file=${this.pidFile}`, '--dhcp-authoritative', '--log-dhcp',
      `--log-facility=${join(o.dir, 'dnsmasq.log')}`,
    ];
  }

  private spawnOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('dnsmasq', this.args(), { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
      let ready = false;
      // dnsmasq writes its pid file once the sockets are bound; that is "ready".
      const poll = setInterval(() => {
        if (child.pid && this.pidFileNames(child.pid)) { clearInterval(poll); ready = true; resolve(); }
      }, 50);
      child.once('error', (e: NodeJS.ErrnoException) => {
        clearInterval(poll);
        reject(new StratusError('TOOL_FAILED', `cannot run dnsmasq: ${e.code === 'ENOENT' ? 'not installed (Debian package dnsmasq-base)' : e.message}`));
      });
      child.once('exit', (code, signal) => {
        clearInterval(poll);
        if (this.child === child) this.child = undefined;
        if (!ready) {
          reject(new StratusError('TOOL_FAILED', `dnsmasq for bridge ${this.o.bridge} exited at start (${signal ?? `exit ${code}`}): ${stderr.trim().split('\n').slice(-2).join(' ')}`));
          return;
        }
        if (!this.stopping) this.restartLater();
      });
      this.child = child;
    });
  }

  /** Supervision: restart a dnsmasq that died, at most five times a minute. */
  private restartLater(): void {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < 60_000);
    if (this.restarts.length >= 5) return;
    this.restarts.push(now);
    setTimeout(() => { if (!this.stopping) this.spawnOnce().catch(() => undefined); }, 1000).unref();
  }

  private pidFileNames(pid: number): boolean {
    try {
      return Number(readFileSync(this.pidFile, 'utf8').trim()) === pid;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }
}
