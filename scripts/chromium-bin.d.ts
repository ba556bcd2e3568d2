/** Types of scripts/chromium-bin.js (plain CommonJS so it runs without a TypeScript compile). */

/** Flags that let Chromium run headless as root, without a GPU or Google's background services. */
export declare const CHROMIUM_ARGS: readonly string[];

/** The version text a binary reports for `--version`, or null when it is not a working Chromium. */
export declare function chromiumVersion(binary: string): string | null;

/** The first working Chromium on this machine; throws when CHROMIUM_BIN is set but does not work. */
export declare function findChromium(): string | null;

/**
 * A working Chromium's absolute path: found, or installed with apt-get as root; throws a
 * one-line error with an install hint otherwise.
 */
export declare function ensureChromium(options?: { log?: (line: string) => void }): string;
