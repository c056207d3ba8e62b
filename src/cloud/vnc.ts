import { BlockList, createServer, isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import { StratusError } from '../domain/errors.js';
import type { VncRequest } from '../compute/launch.js';
import type { VncEndpoint } from '../domain/instance-wire.js';

/**
 * Each instance's VNC server (run-instance's --vnc-port and --vnc-listen, StratusLab's
 * GRAPHICS vector). Loopback unless the administrator allows more: anyone who reaches the port
 * sees the screen and types at the console, so every server asks for a password too, which only
 * the instance's owner is shown.
 */
export interface VncSettings {
  /** The ports instances' VNC servers may take, inclusive (`[instances] vnc_ports`). */
  ports: { from: number; to: number };
  /** Addresses beyond loopback an instance's VNC server may listen on (`[instances] vnc_listen_allowed`): addresses, CIDR blocks, or `any`. */
  listenAllowed: string[];
}

/** QEMU counts VNC ports as displays from here: no lower port can be given to it. */
export const VNC_LOWEST_PORT = 5900;
export const DEFAULT_VNC_SETTINGS: VncSettings = { ports: { from: 5900, to: 5999 }, listenAllowed: [] };
export const DEFAULT_VNC_LISTEN = '127.0.0.1';
/** StratusLab's GRAPHICS default: the cloud picks the port. */
export const ANY_VNC_PORT = -1;
/** VNC authentication (DES challenge) reads the first 8 characters of a password, no more. */
const PASSWORD_LENGTH = 8;
const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** What an instance's spec keeps of its VNC server: what was asked for, and the password. */
export interface VncSpec {
  listen: string;
  /** The port asked for, or -1 (the cloud picked one of the range). */
  port: number;
  password: string;
}

/** The checked request: the address and the ports QEMU may take, for every VM of the request. */
export interface VncPlan {
  listen: string;
  port: number;
  ports: { from: number; to: number };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * Checks --vnc-listen and --vnc-port against the site's settings, before anything is made:
 * the address must be loopback or allowed by the administrator; a port asked for must be in the
 * site's range, for one VM, held by no live instance, and free now; with -1 the range must
 * still have a free port for each VM. `held`: the ports live instances asked for.
 */
export async function planVnc(req: { vncPort?: number; vncListen?: string }, s: VncSettings, count: number, held: ReadonlySet<number>): Promise<VncPlan> {
  const listen = listenAddress(req.vncListen ?? DEFAULT_VNC_LISTEN, s);
  const range = `${s.ports.from}-${s.ports.to}`;
  const port = req.vncPort ?? ANY_VNC_PORT;
  if (port === ANY_VNC_PORT) {
    const free = await freePorts(listen, s.ports, count);
    if (free < count) {
      throw new StratusError('VNC_PORT_BUSY', `no free VNC port for ${count > 1 ? `${count} VMs` : 'the VM'} in this cloud's range ${range} on ${listen}: ${free} free`, {
        hint: 'Kill instances you no longer need, or ask the administrator to widen [instances] vnc_ports in stratus.cfg.',
      });
    }
    return { listen, port, ports: s.ports };
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StratusError('USAGE', `--vnc-port must be -1 (the cloud picks a free port) or a port number, not ${String(port)}`);
  }
  if (port < s.ports.from || port > s.ports.to) {
    throw new StratusError('VNC_REFUSED', `VNC port ${port} is outside this cloud's VNC ports ${range}`, {
      hint: `Give a port in ${range}, or -1 (the default) to let the cloud pick a free one; the administrator sets the range ([instances] vnc_ports in stratus.cfg).`,
    });
  }
  if (count > 1) {
    throw new StratusError('USAGE', `--vnc-port ${port} is one port, but ${count} VMs were asked for`, { hint: 'Use --vnc-port -1 (the default): each VM gets a free port of its own.' });
  }
  const busy = (why: string): StratusError => new StratusError('VNC_PORT_BUSY', `VNC port ${port} on ${listen} is in use (${why})`, {
    hint: `Give another port in ${range}, or -1 (the default) to let the cloud pick a free one.`,
  });
  if (held.has(port)) throw busy('another instance asked for it');
  const bound = await tryBind(listen, port);
  if (bound === 'EADDRINUSE') throw busy('by another instance or program');
  if (bound !== 'ok') throw unbindable(listen, bound);
  return { listen, port, ports: { from: port, to: port } };
}

/** What QEMU is given for one VM: the plan, with the VM's own password. */
export function vncRequest(plan: VncPlan, password: string): VncRequest {
  return { listen: plan.listen, ports: plan.ports, password };
}

/** A new VNC password: 8 characters (all VNC authentication reads), none easily confused. */
export function vncPassword(): string {
  let password = '';
  for (let i = 0; i < PASSWORD_LENGTH; i++) password += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return password;
}

function listenAddress(text: string, s: VncSettings): string {
  const family = isIP(text);
  if (family === 0) {
    throw new StratusError('USAGE', `--vnc-listen must be an IP address (such as 127.0.0.1 or ::1), not ${JSON.stringify(text)}`);
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (LOOPBACK.check(text, type) || s.listenAllowed.includes('any') || allowList(s.listenAllowed).check(text, type)) return text;
  throw new StratusError('VNC_REFUSED', `VNC listen address ${text} is not allowed on this cloud: only loopback addresses (127.0.0.0/8, ::1)${s.listenAllowed.length ? ` and ${s.listenAllowed.join(', ')}` : ''} are`, {
    hint: 'Leave --vnc-listen out (127.0.0.1) and reach the port through SSH (ssh -L 5900:127.0.0.1:<port> <cloud host>), or ask the administrator to add the address to [instances] vnc_listen_allowed in stratus.cfg.',
  });
}

/** The administrator's list as a BlockList (entries were checked when the settings were read). */
function allowList(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/**
 * Reads `[instances] vnc_ports` (`5900-5999`, or one port) and `vnc_listen_allowed` (addresses
 * and CIDR blocks, comma- or line-separated, or `any`); `bad` reports a wrong value.
 */
export function parseVncSettings(ports: string | undefined, allowed: string | undefined, bad: (key: string, value: string, want: string) => never): VncSettings {
  let range = DEFAULT_VNC_SETTINGS.ports;
  const text = ports?.trim();
  if (text) {
    const m = /^(\d+)\s*(?:-\s*(\d+))?$/.exec(text);
    const from = Number(m?.[1]);
    const to = Number(m?.[2] ?? m?.[1]);
    if (!m || from < VNC_LOWEST_PORT || to > 65535 || to < from) bad('vnc_ports', text, `a port range within ${VNC_LOWEST_PORT}-65535, such as 5900-5999 (QEMU counts VNC ports from ${VNC_LOWEST_PORT})`);
    range = { from, to };
  }
  const listenAllowed = (allowed ?? '').split(/[\n,]/).map((e) => e.trim()).filter(Boolean);
  for (const entry of listenAllowed) {
    if (entry === 'any') continue;
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address ?? '');
    const bits = family === 4 ? 32 : 128;
    const okPrefix = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !okPrefix || extra !== undefined) bad('vnc_listen_allowed', entry, 'an IP address, a CIDR block (10.0.0.0/8) or any');
  }
  return { ports: range, listenAllowed };
}

/** How many ports of the range are free on `listen` (counting stops at `enough`). */
async function freePorts(listen: string, ports: { from: number; to: number }, enough: number): Promise<number> {
  let free = 0;
  for (let port = ports.from; port <= ports.to && free < enough; port++) {
    const bound = await tryBind(listen, port);
    if (bound === 'ok') free++;
    else if (bound !== 'EADDRINUSE') throw unbindable(listen, bound);
  }
  return free;
}

function unbindable(listen: string, code: string): StratusError {
  if (code === 'EADDRNOTAVAIL') {
    return new StratusError('USAGE', `VNC listen address ${listen} is not an address of this host`, { hint: 'Give an address this host has (ip -brief address), or leave --vnc-listen out.' });
  }
  return new StratusError('VNC_PORT_BUSY', `cannot listen for VNC on ${listen}: ${code}`);
}

/** Binds and releases the port, as QEMU will bind it: 'ok', or the error code. */
function tryBind(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve('ok')));
  });
}

/** The endpoint QEMU reported, with the password for the owner alone. */
export function vncView(endpoint: { address: string; port: number } | undefined, spec: VncSpec | undefined, owner: boolean): VncEndpoint | null {
  if (!endpoint) return null;
  return { address: endpoint.address, port: endpoint.port, ...(owner && spec ? { password: spec.password } : {}) };
}
