import { connect } from 'node:net';

/**
 * Readiness probes that need a real answer: a forwarded port accepts connections before the
 * guest listens (QEMU's slirp answers for it), so an open port proves nothing.
 */
export async function waitForSshBanner(host: string, port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<string> {
  // One probe at a time, each given 3 s. While the guest has no address, QEMU's slirp holds a
  // probe open and retransmits its SYN, so the banner can be seen up to ~2 s after sshd is
  // ready. Overlapping probes saw it sooner, but every connection slirp had pending reached
  // sshd at once when it started, and under TCG the first real login was then refused.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const banner = await sshBanner(host, port, Math.min(3000, Math.max(500, deadline - Date.now())));
    if (banner?.startsWith('SSH-')) return banner;
    if (Date.now() > deadline) throw new Error(`no SSH banner from ${host}:${port} within ${timeoutMs} ms`);
    if (!isAlive()) throw new Error(`the machine stopped before SSH on ${host}:${port} answered`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * One probe: the first line the port says within `timeoutMs`, or undefined (refused, reset,
 * silent). A guest is ready for SSH when this line starts with `SSH-`.
 */
export function sshBanner(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let data = '';
    const done = (v: string | undefined): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    s.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      const nl = data.indexOf('\n');
      if (nl >= 0) done(data.slice(0, nl).trim());
    });
    s.on('error', () => done(undefined));
    s.on('close', () => done(data ? data.trim() : undefined));
  });
}

/** Polls an HTTP URL until it answers with `status` (default 200), and with `body` when given; returns the body. */
export async function waitForHttp(url: string, timeoutMs: number, status = 200, body?: string): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      const text = await res.text();
      // With `body`: a page still being written (a script's `cat > file`) is not the answer yet.
      if (res.status === status && (body === undefined || text === body)) return text;
      last = res.status === status ? `a body of ${text.length} bytes: ${JSON.stringify(text.slice(0, 80))}` : `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Waits until something accepts TCP connections on host:port: enough for a host service we
 * started ourselves (no slirp in between), never for a guest port.
 */
export async function waitForListener(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
