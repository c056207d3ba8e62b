/**
 * A sliding-window counter per key (a client address, an account name): at most `limit`
 * events per `windowMs`. Memory is bounded: at most `maxKeys` keys, each holding at most
 * `limit` timestamps, so a flood of distinct keys cannot grow it without end.
 */
export class SlidingWindow {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  /** Milliseconds until `key` may have another event; 0 when it may now. */
  waitMs(key: string): number {
    if (this.limit <= 0) return 0;
    const live = this.live(key);
    if (live.length < this.limit) return 0;
    return Math.max(1, (live[live.length - this.limit] as number) + this.windowMs - this.now());
  }

  /** Records an event for `key`; the returned function takes it back (a reservation that did not count). */
  record(key: string): () => void {
    const at = this.now();
    let live = this.live(key);
    if (!this.events.has(key)) {
      this.makeRoom();
      this.events.set(key, live);
    }
    live.push(at);
    // Only the newest `limit` events can ever matter to waitMs.
    if (live.length > this.limit) live.splice(0, live.length - this.limit);
    return () => {
      live = this.events.get(key) ?? [];
      const i = live.lastIndexOf(at);
      if (i >= 0) live.splice(i, 1);
      if (live.length === 0) this.events.delete(key);
    };
  }

  /** Keys currently tracked (for tests and the memory bound). */
  get size(): number {
    return this.events.size;
  }

  /** The key's events still inside the window, oldest first (expired ones are dropped). */
  private live(key: string): number[] {
    const list = this.events.get(key);
    if (!list) return [];
    const from = this.now() - this.windowMs;
    let drop = 0;
    while (drop < list.length && (list[drop] as number) <= from) drop++;
    if (drop > 0) list.splice(0, drop);
    if (list.length === 0) this.events.delete(key);
    return list;
  }

  private makeRoom(): void {
    if (this.events.size < this.maxKeys) return;
    for (const key of [...this.events.keys()]) this.live(key);
    // Still full of live keys: forget the oldest-inserted tenth rather than grow, so that a
    // flood of new keys does not pay this walk on every event.
    const keep = Math.floor(this.maxKeys * 0.9);
    for (const key of this.events.keys()) {
      if (this.events.size <= keep) break;
      this.events.delete(key);
    }
  }
}

/**
 * The key a client address is counted under: IPv4 addresses as they are (also when mapped
 * into IPv6), IPv6 addresses by their /64, since one host commonly holds a whole /64.
 */
export function addressKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]?.split('::') ?? [];
  const left = head ? head.split(':') : [];
  const right = address.includes('::') && tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':') + '::/64';
}
