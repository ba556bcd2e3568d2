/**
 * A push-to-pull queue: what `push` gives, `for await` takes, in order. The test connection's
 * status feeds and iterator subscriptions are made of it.
 */

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * An async iterator fed by `push`: `end()` finishes it once what was pushed is taken, `stop()`
 * finishes it at once, dropping what was not taken. Like nats.js's QueuedIterator, it has
 * `stop()`, so code that ends nats.js feeds ends these too.
 *
 * @example
 * const queue = new AsyncQueue<string>();
 * queue.push('a');
 * queue.end();
 * for await (const item of queue) console.log(item); // 'a'
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly takers: ((result: IteratorResult<T>) => void)[] = [];
  private ending = false;

  /** Items pushed and not yet taken. */
  get pending(): number {
    return this.items.length;
  }

  /** Whether `end()` or `stop()` was called. */
  get ended(): boolean {
    return this.ending;
  }

  /**
   * Hands `item` to a waiting `next()`, or keeps it for the next one.
   *
   * @return False when the queue has ended (the item is dropped).
   */
  push(item: T): boolean {
    if (this.ending) return false;
    const taker = this.takers.shift();
    if (taker) taker({ done: false, value: item });
    else this.items.push(item);
    return true;
  }

  /** Ends the queue once the items already pushed are taken. Idempotent. */
  end(): void {
    this.ending = true;
    for (const taker of this.takers.splice(0)) taker(DONE);
  }

  /** Ends the queue now: items not yet taken are dropped. Idempotent. */
  stop(): void {
    this.items.length = 0;
    this.end();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ done: false, value: this.items.shift()! });
    if (this.ending) return Promise.resolve(DONE);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** A `for await` left early (break, throw) stops the queue. */
  return(): Promise<IteratorResult<T>> {
    this.stop();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
