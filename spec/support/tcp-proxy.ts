/**
 * A TCP proxy of the suite's own (node `net`, no dependencies), to put network faults between a
 * client and a nats-server: a partition that keeps both sockets open, a delay on every chunk,
 * a new target for later connections.
 *
 * Bytes are never reordered by the proxy. During a partition they are HELD, as a real TCP link
 * whose packets stop getting through holds them in the sender's unacknowledged send buffer: the
 * proxy keeps reading both sockets but delivers nothing; `heal()` delivers everything held, in
 * order. A socket that ends (FIN) during a partition is held too: its end reaches the other side
 * after the bytes written before it, after `heal()`. A socket that is RESET (an abortive close,
 * `resetAndDestroy`) loses what the proxy had not delivered yet, as a TCP stack discards the
 * unacknowledged bytes of a reset connection; the reset itself reaches the other side at once,
 * or after `heal()` when partitioned. Connections accepted during a partition are dialled
 * upstream but carry nothing until `heal()` (a host that accepts and never answers).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Options of {@link startTcpProxy}. */
export interface TcpProxyOptions {
  /** The port every new connection is forwarded to (until `retarget`). */
  targetPort: number;
  /** The target's host; default `127.0.0.1`. The proxy listens on `127.0.0.1`. */
  host?: string;
}

/** A running proxy. */
export interface TcpProxy {
  /** The port the proxy listens on (loopback). */
  readonly port: number;
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  /** Connections open now (client side accepted and not yet closed). */
  readonly connections: number;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** Whether a partition is in force. */
  readonly partitioned: boolean;
  /** Stops forwarding both ways; sockets stay open and bytes are held (see the file's comment). */
  partition(): void;
  /**
   * Ends the partition: held bytes (and held ends) are delivered in order, at the next turn of
   * the event loop (after the sockets' pending events: a reset already sent discards them).
   */
  heal(): void;
  /** Delays every chunk by a random time in [minMs, maxMs], order kept; `setDelay(0, 0)` ends it. */
  setDelay(minMs: number, maxMs: number): void;
  /** Later connections go to this port; open ones keep their target. */
  retarget(port: number): void;
  /** Destroys every open connection now (both sides: a reset), partition or not. */
  resetConnections(): void;
  /** Resolves once the open connection count satisfies `predicate` (checked on every change). */
  waitForConnections(predicate: (count: number) => boolean): Promise<void>;
  /**
   * Ends (FIN) and resets the proxy has seen from either side since the start, each told apart
   * and queued behind the bytes before it (held during a partition).
   */
  readonly endsSeen: number;
  /** Resolves once `endsSeen` is at least `count`. */
  waitForEnds(count: number): Promise<void>;
  /** Stops listening and destroys every socket; resolves when the listener is closed. */
  close(): Promise<void>;
}

const END = Symbol('end');
/** The byte of {@link Lane.probeEnd}. */
const PROBE = Buffer.from([0]);
const RESET = Symbol('reset');
type Chunk = Buffer | typeof END | typeof RESET;

/** Resets a socket; one still connecting is destroyed (a reset would wait for the connect). */
function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  // One already shut down for writing cannot be reset (libuv refuses): destroy it.
  if (socket.connecting || socket.writableEnded) socket.destroy();
  else socket.resetAndDestroy();
}

interface ProxyState {
  partitioned: boolean;
  delay: { minMs: number; maxMs: number };
  /** Ends and resets seen (told apart), from either side. */
  endsSeen: number;
  changed: () => void;
}

/**
 * One direction of one connection: chunks read from `from`, waiting to be written to `to`. The
 * end of `from` (FIN or close) travels as the last chunk, so it never overtakes bytes; a reset
 * of `from` discards what is waiting and travels alone.
 */
class Lane {
  private readonly queue: { chunk: Chunk; dueAt: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastDueAt = 0;
  private ended = false;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly proxy: ProxyState,
  ) {
    from.on('data', (chunk: Buffer) => this.push(chunk));
    from.on('end', () => this.probeEnd());
    from.on('error', () => this.reset());
    from.on('close', () => this.push(END));
  }

  /**
   * `from` ended: a FIN, or a reset that Linux reports as an end when it came right behind data
   * the proxy had not read yet. One byte written back tells them apart at the socket itself: a
   * socket that was reset refuses it at once (EPIPE/ECONNRESET), one that got a FIN takes it
   * (its peer, gone, discards it).
   */
  private probeEnd(): void {
    if (this.ended || this.from.destroyed) return;
    this.from.write(PROBE, (error) => {
      if (error) this.reset();
      else this.push(END);
    });
  }

  private reset(): void {
    if (this.ended) return;
    this.queue.length = 0;
    this.push(RESET);
  }

  private push(chunk: Chunk): void {
    if (this.ended) return;
    if (chunk === END || chunk === RESET) {
      this.ended = true;
      this.proxy.endsSeen++;
      this.proxy.changed();
    }
    const { minMs, maxMs } = this.proxy.delay;
    const delay = maxMs > 0 ? minMs + Math.random() * (maxMs - minMs) : 0;
    // Never before the chunk ahead of it: a delay keeps the order.
    this.lastDueAt = Math.max(performance.now() + delay, this.lastDueAt);
    this.queue.push({ chunk, dueAt: this.lastDueAt });
    this.pump();
  }

  /** Delivers every chunk that is due unless partitioned; arms a timer for the next one. */
  pump(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.proxy.partitioned) return;
    const now = performance.now();
    while (this.queue.length > 0 && this.queue[0].dueAt <= now) {
      const { chunk } = this.queue.shift()!;
      if (this.to.destroyed) continue;
      // `from` is gone: nothing can answer it, so `to` closes once its bytes are written.
      if (chunk === END) this.to.end(() => this.to.destroy());
      else if (chunk === RESET) resetSocket(this.to);
      else this.to.write(chunk);
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => this.pump(), this.queue[0].dueAt - now);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }
}

/** A client socket, its upstream socket and the two lanes between them. */
class Pair {
  private readonly lanes: Lane[];
  private closed = false;

  constructor(
    private readonly client: Socket,
    private readonly upstream: Socket,
    proxy: ProxyState,
    private readonly onClose: (pair: Pair) => void,
  ) {
    this.lanes = [new Lane(client, upstream, proxy), new Lane(upstream, client, proxy)];
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      // A reset or a refused upstream dial: 'close' follows, and the lane carries it over.
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (client.destroyed && upstream.destroyed) this.markClosed();
      });
    }
  }

  /** Delivers what is due (after a heal). */
  pump(): void {
    for (const lane of this.lanes) lane.pump();
  }

  destroy(): void {
    resetSocket(this.client);
    resetSocket(this.upstream);
    this.markClosed();
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const lane of this.lanes) lane.stop();
    this.onClose(this);
  }
}

/**
 * Starts a proxy on a free loopback port, forwarding to `targetPort`.
 *
 * @example
 * const proxy = await startTcpProxy({ targetPort: server.port });
 * const client = createClient({ clusterId, agentId, natsUrl: proxy.url });
 * proxy.partition(); // the link goes silent, sockets stay open
 * proxy.heal();      // what was held is delivered
 * await proxy.close();
 * @param options The target port and host.
 * @return The running proxy.
 */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const host = options.host ?? '127.0.0.1';
  let targetPort = options.targetPort;
  const watchers = new Set<() => void>();
  const changed = (): void => {
    for (const watcher of [...watchers]) watcher();
  };
  const state: ProxyState = {
    partitioned: false,
    delay: { minMs: 0, maxMs: 0 },
    endsSeen: 0,
    changed,
  };
  const pairs = new Set<Pair>();
  let accepted = 0;
  let healing: (() => void) | null = null;
  const until = (condition: () => boolean): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!condition()) return;
        watchers.delete(check);
        resolve();
      };
      watchers.add(check);
      check();
    });

  // Half-open allowed: an end is handled by the lanes (probed, then passed on in order).
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    accepted++;
    const upstream = connect({ host, port: targetPort, allowHalfOpen: true });
    const pair = new Pair(client, upstream, state, (closed) => {
      pairs.delete(closed);
      changed();
    });
    pairs.add(pair);
    changed();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy bound no port');
  const port = address.port;

  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    get partitioned() {
      return state.partitioned;
    },
    partition() {
      state.partitioned = true;
      healing?.();
    },
    heal() {
      if (!state.partitioned || healing) return;
      // Delivered after the next poll of the sockets: a reset that reached the proxy before the
      // heal discards what it held, as it would have on the wire.
      const immediate = setImmediate(() => {
        healing = null;
        state.partitioned = false;
        for (const pair of pairs) pair.pump();
      });
      healing = () => {
        clearImmediate(immediate);
        healing = null;
      };
    },
    setDelay(minMs, maxMs) {
      if (!(minMs >= 0 && maxMs >= minMs)) {
        throw new RangeError(`setDelay needs 0 <= minMs <= maxMs, got ${minMs}, ${maxMs}`);
      }
      state.delay = { minMs, maxMs };
    },
    retarget(newPort) {
      targetPort = newPort;
    },
    resetConnections() {
      for (const pair of [...pairs]) pair.destroy();
    },
    waitForConnections(predicate) {
      return until(() => predicate(pairs.size));
    },
    get endsSeen() {
      return state.endsSeen;
    },
    waitForEnds(count) {
      return until(() => state.endsSeen >= count);
    },
    close() {
      healing?.();
      for (const pair of [...pairs]) pair.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
