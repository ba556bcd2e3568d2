/**
 * What `backbeat board` tells its page at `/config.json`: which cluster to watch, the NATS
 * WebSocket URLs and credentials to connect with, and whom to trust. The page reads it once.
 */

/** The board page's settings. */
export interface BoardConfig {
  /** The cluster to watch. */
  readonly clusterId: string;
  /** nats-server WebSocket URLs (`ws://` or `wss://`), without credentials. */
  readonly servers: readonly string[];
  /** User and password, from `--nats ws://user:password@host:port`. */
  readonly user?: string;
  readonly pass?: string;
  /** A token, from `--nats ws://token@host:port`. */
  readonly token?: string;
  /** Agent id → trusted public key(s), base64; with it, claims must be signed by them. */
  readonly trustedKeys?: Readonly<Record<string, string | readonly string[]>>;
}
