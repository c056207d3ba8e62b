import { createHmac, randomBytes } from 'node:crypto';
import { StratusError, isStratusError } from '../domain/errors.js';
import { SlidingWindow, addressKey } from '../platform/rate-limit.js';
import type { Principal } from '../accounts/accounts.js';

export interface LoginLimits {
  /** Failed logins allowed per client address (IPv6: per /64) within the window. */
  perAddress: number;
  /** Failed logins allowed per account name within the window, from all addresses together. */
  perAccount: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perAddress: 20, perAccount: 10, windowMs: 60_000 };

/** Credentials that succeeded are let through a block this long (see authenticate). */
const KNOWN_GOOD_MS = 15 * 60_000;

/**
 * Limits password guessing. Each check that is not known to succeed reserves a failure for
 * its address and its account before scrypt runs (so 64 concurrent guesses cannot all slip in
 * before the first one fails); a success takes the reservation back. Past the limit, the
 * answer is 429 with Retry-After and no scrypt runs at all.
 *
 * Credentials that succeeded recently from anywhere are let through a block: a guesser
 * hammering an account or sharing an address must not lock out the people already using it.
 * They are still checked by Accounts, so a changed password stops working as before.
 */
export class LoginGuard {
  private readonly byAddress: SlidingWindow;
  private readonly byAccount: SlidingWindow;
  private readonly knownGood = new Map<string, number>();
  /** Keys the fingerprints of good credentials, so the map holds nothing a dump could crack offline. */
  private readonly secret = randomBytes(32);

  constructor(limits: LoginLimits = DEFAULT_LOGIN_LIMITS, private readonly now: () => number = Date.now) {
    this.byAddress = new SlidingWindow(limits.perAddress, limits.windowMs, now);
    this.byAccount = new SlidingWindow(limits.perAccount, limits.windowMs, now);
  }

  async authenticate(address: string | undefined, username: string, password: string, check: () => Promise<Principal>): Promise<Principal> {
    const fingerprint = createHmac('sha256', this.secret).update(`${username}\0${password}`).digest('base64');
    const known = (this.knownGood.get(fingerprint) ?? 0) > this.now();
    const addr = addressKey(address);
    let release: Array<() => void> = [];
    if (!known) {
      const wait = Math.max(this.byAddress.waitMs(addr), this.byAccount.waitMs(username));
      if (wait > 0) {
        const retryAfterS = Math.ceil(wait / 1000);
        throw new StratusError('RATE_LIMITED', `too many failed logins from ${addr} or for this account: try again in ${retryAfterS} s`, { retryAfterS });
      }
      release = [this.byAddress.record(addr), this.byAccount.record(username)];
    }
    try {
      const principal = await check();
      for (const r of release) r();
      if (this.knownGood.size >= 10_000) this.knownGood.clear();
      this.knownGood.set(fingerprint, this.now() + KNOWN_GOOD_MS);
      return principal;
    } catch (e) {
      // Only a wrong password counts; a busy server or a database error is not the client's guess.
      if (!isStratusError(e, 'AUTH_REQUIRED')) for (const r of release) r();
      else this.knownGood.delete(fingerprint);
      throw e;
    }
  }
}
