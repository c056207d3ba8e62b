import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Semaphore } from './semaphore.js';

/** scrypt parameters: N=2^15, r=8, p=1 (~30-60 ms here), stored with each hash. */
const N = 1 << 15;
const R = 8;
const P = 1;
const KEYLEN = 32;

/**
 * scrypt runs on libuv's thread pool (4 threads by default), which file reads and zlib also
 * need: unbounded, a flood of wrong passwords filled it and another user's download went from
 * 3 ms to 32 s. At most half the cores (one on two, two from four up) leave the pool and the
 * CPU room for everything else, and the queue behind them is bounded. Successful logins are
 * cached (Accounts), so signed-in users rarely wait here.
 */
const scryptSlots = new Semaphore(Math.max(1, Math.min(2, Math.floor(availableParallelism() / 2))), 64, 'password checks');

function derive(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return scryptSlots.run(() => new Promise((resolve, reject) => {
    scrypt(password, salt, KEYLEN, { ...opts, maxmem: 256 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  }));
}

/** How many password checks run and wait now (for tests and diagnostics). */
export function passwordCheckLoad(): { running: number; waiting: number } {
  return scryptSlots.load;
}

/** A self-describing hash: scrypt$N$r$p$salt$key (base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, { N, r: R, p: P });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** True when `password` matches `stored`; constant-time on the derived key. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** A random password for generated accounts: 24 characters of base64url. */
export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}
