/**
 * Work run one at a time per key, in the order it was asked for; a failure does not stop the
 * work queued after it (its caller gets the error). Used where overlapping async work on the
 * same thing would interleave: one account's layers, one bridge's firewall.
 */
export class Turns<K = string> {
  private readonly queues = new Map<K, Promise<unknown>>();

  run<T>(key: K, work: () => Promise<T>): Promise<T> {
    const turn = (this.queues.get(key) ?? Promise.resolve()).then(work);
    const settled = turn.catch(() => undefined);
    this.queues.set(key, settled);
    void settled.then(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    return turn;
  }
}
