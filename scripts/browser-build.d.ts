/** Types of scripts/browser-build.js (plain CommonJS so that specs can require it). */

/** The SDK bundle's size without rxjs and nats.ws, and the minified bytes each input adds. */
export interface BundleSize {
  readonly minified: number;
  readonly gzipped: number;
  /** 'lib', or a package name → minified bytes in the bundle. */
  readonly inputs: Readonly<Record<string, number>>;
}

/** The project's root directory. */
export declare const root: string;

/** Measures the SDK's browser bundle, minified and gzipped. */
export declare function measureSdkBundle(): Promise<BundleSize>;

/** Writes the board page (index.html, board.css, board.js) into outDir. */
export declare function buildBoardPage(outDir: string): Promise<void>;

/** Bundles a page script with the browser edges, rxjs and nats.ws. */
export declare function buildPageScript(
  entry: string,
  outfile: string,
  options?: { minify?: boolean },
): Promise<void>;

/** The SDK bundle's Node builtins (must be none), mentions of Buffer, bare imports and size. */
export declare function checkSdkBundle(): Promise<{
  builtins: string[];
  bufferMentions: number;
  imports: string[];
  size: BundleSize;
}>;

/** `npm run build`'s browser part: dist/browser/index.mjs and dist/board/. */
export declare function buildBrowser(): Promise<string>;

/** An esbuild plugin recording each Node builtin that reaches a bundle into `found`. */
export declare function nodeBuiltinRecorder(found: string[]): import('esbuild').Plugin;
