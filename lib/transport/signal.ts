function ignore(): void {}

/** Listeners called once at the next `fire()`. */
export class Signal {
  private readonly listeners = new Set<() => void>();

  /** Calls and forgets every listener. */
  fire(): void {
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener();
  }

  /** Calls `listener` at the next fire; returns a function that forgets it before then. */
  subscribe(listener: () => void): () => void {
    const once = (): void => listener();
    this.listeners.add(once);
    return () => {
      this.listeners.delete(once);
    };
  }

  /** A promise of the next fire, and `cancel` to stop waiting (so nothing stays referenced). */
  next(): { promise: Promise<void>; cancel: () => void } {
    let cancel = ignore;
    const promise = new Promise<void>((resolve) => {
      cancel = this.subscribe(resolve);
    });
    return { promise, cancel };
  }
}
