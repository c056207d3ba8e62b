import { connect } from 'node:net';

/**
 * Readiness probes that need a real answer: a forwarded port accepts connections before the
 * guest listens (QEMU's slirp answers for it), so an open port proves nothing.
 */
export async function waitForSshBanner(host: string, port: number, timeoutMs: number, isAlive: () => boolean = () => true): Promise<string> {
  // Probes overlap: while the guest has no address yet, QEMU's slirp holds a connection open
  // and retransmits its SYN with back-off, so one probe at a time would see the banner up to
  // seconds late. A new probe starts every 250 ms (at most 8 open); the first banner wins.
  const deadline = Date.now() + timeoutMs;
  const open = new Set<() => void>();
  let found: ((banner: string) => void) | undefined;
  const banner = new Promise<string>((r) => (found = r));
  let inFlight = 0;
  try {
    for (;;) {
      if (inFlight < 8) {
        inFlight++;
        void readBanner(host, port, 5000, open).then((b) => {
          inFlight--;
          if (b?.startsWith('SSH-')) found?.(b);
        });
      }
      const got = await Promise.race([banner, new Promise<undefined>((r) => setTimeout(r, 250))]);
      if (got) return got;
      if (Date.now() > deadline) throw new Error(`no SSH banner from ${host}:${port} within ${timeoutMs} ms`);
      if (!isAlive()) throw new Error(`the machine stopped before SSH on ${host}:${port} answered`);
    }
  } finally {
    for (const close of [...open]) close();
  }
}

function readBanner(host: string, port: number, timeoutMs: number, open: Set<() => void>): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let data = '';
    const done = (v: string | undefined): void => {
      clearTimeout(timer);
      open.delete(close);
      s.destroy();
      resolve(v);
    };
    const close = (): void => done(undefined);
    open.add(close);
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

/** Polls an HTTP URL until it answers with `status` (default 200); returns the body. */
export async function waitForHttp(url: string, timeoutMs: number, status = 200): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      const body = await res.text();
      if (res.status === status) return body;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
