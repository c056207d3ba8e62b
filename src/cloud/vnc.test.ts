import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { isStratusError } from '../domain/errors.js';
import { DEFAULT_VNC_SETTINGS, parseVncSettings, planVnc, vncPassword, vncRequest, vncView } from './vnc.js';
import type { VncSettings } from './vnc.js';

/** A listener on a free port of 127.0.0.1 (what another instance or program holds). */
async function holder(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return { port: address.port, server };
}

const close = (s: Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

/** A free port (ephemeral ports are above 5900), given back at once. */
async function freePort(): Promise<number> {
  const h = await holder();
  await close(h.server);
  return h.port;
}

const site = (from: number, to = from, listenAllowed: string[] = []): VncSettings => ({ ports: { from, to }, listenAllowed });
const rejects = (p: Promise<unknown>, code: Parameters<typeof isStratusError>[1], message: string | RegExp): Promise<void> => assert.rejects(p, (e) => {
  assert.ok(isStratusError(e, code), `${String(e)}: not ${code}`);
  if (typeof message === 'string') assert.equal(e.message, message);
  else assert.match(e.message, message);
  return true;
});

test('by default: loopback 127.0.0.1, and QEMU may take any port of the site\'s range (-1, StratusLab\'s default)', async () => {
  const port = await freePort();
  assert.deepEqual(await planVnc({}, site(port, port + 1), 1, new Set()), { listen: '127.0.0.1', port: -1, ports: { from: port, to: port + 1 } });
  assert.deepEqual(await planVnc({ vncPort: -1 }, site(port), 1, new Set()), { listen: '127.0.0.1', port: -1, ports: { from: port, to: port } });
});

test('any loopback address is allowed without the administrator (127.0.0.0/8)', async () => {
  const port = await freePort();
  assert.equal((await planVnc({ vncListen: '127.5.5.5' }, site(port), 1, new Set())).listen, '127.5.5.5');
});

test('a non-loopback listen address is refused unless allowed, naming the address and the setting', async () => {
  const port = await freePort();
  for (const listen of ['10.1.2.3', '0.0.0.0', '::', '2001:db8::1']) {
    await rejects(planVnc({ vncListen: listen }, site(port), 1, new Set()), 'VNC_REFUSED', `VNC listen address ${listen} is not allowed on this cloud: only loopback addresses (127.0.0.0/8, ::1) are`);
  }
  await rejects(planVnc({ vncListen: '0.0.0.0' }, site(port, port, ['10.0.0.0/8']), 1, new Set()), 'VNC_REFUSED',
    `VNC listen address 0.0.0.0 is not allowed on this cloud: only loopback addresses (127.0.0.0/8, ::1) and 10.0.0.0/8 are`);
  const e = await planVnc({ vncListen: '10.1.2.3' }, site(port), 1, new Set()).catch((x: unknown) => x);
  assert.ok(isStratusError(e) && /vnc_listen_allowed/.test(e.hint) && /ssh -L/.test(e.hint), 'the hint says how to fix it');
});

test('an allowed address passes the policy, then must be one of this host\'s', async () => {
  const port = await freePort();
  // 192.0.2.0/24 is TEST-NET-1: never an address of this host.
  await rejects(planVnc({ vncListen: '192.0.2.7' }, site(port, port, ['192.0.2.0/24']), 1, new Set()), 'USAGE', 'VNC listen address 192.0.2.7 is not an address of this host');
  await rejects(planVnc({ vncListen: '192.0.2.7' }, site(port, port, ['any']), 1, new Set()), 'USAGE', 'VNC listen address 192.0.2.7 is not an address of this host');
  assert.equal((await planVnc({ vncListen: '0.0.0.0' }, site(port, port, ['0.0.0.0']), 1, new Set())).listen, '0.0.0.0');
});

test('a listen address that is not an IP address is a usage error (no names: they could resolve anywhere)', async () => {
  for (const listen of ['localhost', '127.0.0.1:5900', '', '127.1']) {
    await rejects(planVnc({ vncListen: listen }, DEFAULT_VNC_SETTINGS, 1, new Set()), 'USAGE', `--vnc-listen must be an IP address (such as 127.0.0.1 or ::1), not ${JSON.stringify(listen)}`);
  }
});

test('a port asked for is used alone when free and in the range', async () => {
  const port = await freePort();
  assert.deepEqual(await planVnc({ vncPort: port }, site(port - 10, port + 10), 1, new Set()), { listen: '127.0.0.1', port, ports: { from: port, to: port } });
});

test('a port outside the site\'s range is refused with the range, and a non-port is a usage error', async () => {
  await rejects(planVnc({ vncPort: 22 }, DEFAULT_VNC_SETTINGS, 1, new Set()), 'VNC_REFUSED', "VNC port 22 is outside this cloud's VNC ports 5900-5999");
  await rejects(planVnc({ vncPort: 6000 }, DEFAULT_VNC_SETTINGS, 1, new Set()), 'VNC_REFUSED', "VNC port 6000 is outside this cloud's VNC ports 5900-5999");
  for (const bad of [0, -2, 65536, 5900.5]) {
    await rejects(planVnc({ vncPort: bad }, DEFAULT_VNC_SETTINGS, 1, new Set()), 'USAGE', `--vnc-port must be -1 (the cloud picks a free port) or a port number, not ${bad}`);
  }
});

test('one port for several VMs is a usage error: -1 gives each its own', async () => {
  const port = await freePort();
  await rejects(planVnc({ vncPort: port }, site(port), 2, new Set()), 'USAGE', `--vnc-port ${port} is one port, but 2 VMs were asked for`);
});

test('a port in use is refused before anything is made: by a program, or asked for by a live instance not yet listening', async () => {
  const h = await holder();
  try {
    await rejects(planVnc({ vncPort: h.port }, site(h.port), 1, new Set()), 'VNC_PORT_BUSY', `VNC port ${h.port} on 127.0.0.1 is in use (by another instance or program)`);
  } finally {
    await close(h.server);
  }
  await rejects(planVnc({ vncPort: h.port }, site(h.port), 1, new Set([h.port])), 'VNC_PORT_BUSY', `VNC port ${h.port} on 127.0.0.1 is in use (another instance asked for it)`);
});

test('-1 with every port of the range taken, or fewer free than VMs, is refused with the count', async () => {
  const h = await holder();
  try {
    await rejects(planVnc({}, site(h.port), 1, new Set()), 'VNC_PORT_BUSY', `no free VNC port for the VM in this cloud's range ${h.port}-${h.port} on 127.0.0.1: 0 free`);
    await rejects(planVnc({}, site(h.port - 1, h.port), 2, new Set()), 'VNC_PORT_BUSY', /^no free VNC port for 2 VMs in this cloud's range \d+-\d+ on 127\.0\.0\.1: [01] free$/);
  } finally {
    await close(h.server);
  }
});

test('each VM gets its own 8-character password (all that VNC authentication reads)', () => {
  const a = vncPassword();
  const b = vncPassword();
  assert.match(a, /^[A-Za-z2-9]{8}$/);
  assert.notEqual(a, b);
  assert.deepEqual(vncRequest({ listen: '127.0.0.1', port: -1, ports: { from: 5900, to: 5999 } }, a), { listen: '127.0.0.1', ports: { from: 5900, to: 5999 }, password: a });
});

test('the endpoint shows the password to the owner only, and nothing once QEMU is gone', () => {
  const spec = { listen: '127.0.0.1', port: -1, password: 'Secret12' };
  assert.deepEqual(vncView({ address: '127.0.0.1', port: 5901 }, spec, true), { address: '127.0.0.1', port: 5901, password: 'Secret12' });
  assert.deepEqual(vncView({ address: '127.0.0.1', port: 5901 }, spec, false), { address: '127.0.0.1', port: 5901 });
  assert.equal(vncView(undefined, spec, true), null);
});

test('[instances] vnc_ports and vnc_listen_allowed: defaults, forms, and wrong values named', () => {
  const bad = (key: string, value: string, want: string): never => {
    throw new Error(`${key} = ${value} is not ${want}`);
  };
  assert.deepEqual(parseVncSettings(undefined, undefined, bad), DEFAULT_VNC_SETTINGS);
  assert.deepEqual(parseVncSettings('6000 - 6009', '10.0.0.0/8, 192.168.1.5\n::1\nany', bad), { ports: { from: 6000, to: 6009 }, listenAllowed: ['10.0.0.0/8', '192.168.1.5', '::1', 'any'] });
  assert.deepEqual(parseVncSettings('5900', '', bad).ports, { from: 5900, to: 5900 });
  for (const ports of ['5000-5999', '6010-6000', 'vnc', '5900-70000']) {
    assert.throws(() => parseVncSettings(ports, undefined, bad), new RegExp(`^Error: vnc_ports = ${ports} is not a port range within 5900-65535`));
  }
  for (const entry of ['10.0.0.0/33', 'vnc.example.org', '10.0.0.1/8/1', '::1/129']) {
    assert.throws(() => parseVncSettings(undefined, entry, bad), { message: `vnc_listen_allowed = ${entry} is not an IP address, a CIDR block (10.0.0.0/8) or any` });
  }
});
