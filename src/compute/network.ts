import { createServer } from 'node:net';
import { StratusError } from '../domain/errors.js';

/**
 * Each instance gets its own address in 127.0.0.0/8, so every VM can forward port 22 and its
 * other inbound ports without clashing: Linux routes the whole /8 to the loopback device.
 * Addresses run from <prefix>.0.2 upward; one whose ports are taken (by anything) is skipped.
 */
async function allocateAddress(used: ReadonlySet<string>, ports: number[], prefix = '127.100'): Promise<string> {
  for (let hi = 0; hi < 256; hi++) {
    for (let lo = hi === 0 ? 2 : 1; lo < 255; lo++) {
      const address = `${prefix}.${hi}.${lo}`;
      if (used.has(address)) continue;
      if (await allFree(address, ports)) return address;
    }
  }
  throw new StratusError('TOOL_FAILED', `no free loopback address under ${prefix}.0.0/16 for ports ${ports.join(', ')}`);
}

async function allFree(address: string, ports: number[]): Promise<boolean> {
  for (const port of ports) if (!(await free(address, port))) return false;
  return true;
}

function free(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Addresses handed out in this process whose QEMU has not bound them yet. */
const pending = new Set<string>();

/**
 * Allocates an address and starts the machine on it. Between the probe and QEMU's bind another
 * launch (in this process or another) can take the same ports; QEMU then refuses the forward,
 * and the launch moves on to the next address instead of failing.
 */
export async function startOnFreeAddress<T>(used: ReadonlySet<string>, ports: number[], start: (address: string) => Promise<T>, attempts = 8): Promise<{ address: string; machine: T }> {
  const avoid = new Set(used);
  for (let attempt = 1; ; attempt++) {
    const address = await allocateAddress(new Set([...avoid, ...pending]), ports);
    pending.add(address);
    try {
      return { address, machine: await start(address) };
    } catch (e) {
      if (attempt >= attempts || !/Could not set up host forwarding rule/.test((e as Error).message)) throw e;
      avoid.add(address);
    } finally {
      pending.delete(address);
    }
  }
}
