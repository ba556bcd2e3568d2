/** Types of scripts/nats-server-bin.js (plain CommonJS so it runs without a TypeScript compile). */

/** Where fetched packages are unpacked: <project>/.cache/nats-server. */
export declare const CACHE_DIR: string;

/** The version text a binary reports for `--version`, or null when it is not a working nats-server. */
export declare function natsServerVersion(binary: string): string | null;

/**
 * The first working nats-server on this machine or in the cache, without fetching;
 * throws when NATS_SERVER_BIN is set but does not work.
 */
export declare function findNatsServer(options?: { cacheDir?: string }): string | null;

/**
 * A working nats-server's absolute path: found, or fetched from Debian into the cache;
 * throws a one-line error with an install hint otherwise.
 */
export declare function ensureNatsServer(options?: {
  cacheDir?: string;
  log?: (line: string) => void;
}): string;
