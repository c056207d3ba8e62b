import { StratusError } from '../domain/errors.js';

/**
 * At most `slots` tasks at once; up to `maxWaiting` more wait their turn in order, and any
 * beyond that are refused at once (SERVER_BUSY), so a flood neither runs unbounded work nor
 * builds an unbounded queue.
 */
export class Semaphore {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly slots: number, private readonly maxWaiting: number, private readonly what: string) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots) {
      if (this.waiting.length >= this.maxWaiting) {
        throw new StratusError('SERVER_BUSY', `the server is busy: ${this.running} ${this.what} running and ${this.waiting.length} waiting`, { retryAfterS: 1 });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so the count never dips in between.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Tasks running now, and tasks waiting. */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
