import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureNatsServer } from '../../scripts/nats-server-bin';

/** Options of {@link startNatsServer}. */
export interface NatsServerOptions {
  /** Enables JetStream with a store in the handle's `storeDir`. */
  jetstream?: boolean;
  /** Extra config text appended to the generated file: authorization, accounts, permissions. */
  config?: string;
  /** The client port; a free one is picked when absent. */
  port?: number;
  /** `server_name`; JetStream clusters need distinct ones. */
  serverName?: string;
  /** Joins a cluster: the route port this server listens on and every member's route port. */
  cluster?: { name: string; port: number; routePorts: readonly number[] };
  /** How long a start or restart may take before it fails with the server's log; default 10 s. */
  readyTimeoutMs?: number;
}

/** A nats-server child process started by {@link startNatsServer}. */
export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** The directory of the config file and of the JetStream store (kept across restarts). */
  readonly storeDir: string;
  readonly configFile: string;
  /** True from a successful start until the process exits. */
  readonly running: boolean;
  /** The log (stderr) of the current or last process. */
  log(): string;
  /** Graceful shutdown (SIGTERM, SIGKILL after 5 s); resolves when the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash; resolves when the process has exited. */
  kill(): Promise<void>;
  /** Stops the server if it runs, then starts it on the same port and store; resolves when ready. */
  restart(): Promise<void>;
}

const READY_LINE = 'Server is ready';
const LOG_LIMIT = 256 * 1024;
const STOP_GRACE_MS = 5000;

let binary: string | undefined;

/** The nats-server binary of this run: global setup already found it and set NATS_SERVER_BIN. */
export function natsServerBinary(): string {
  binary ??= ensureNatsServer();
  return binary;
}

/** Servers this module started and has not cleaned up: the afterAll and exit safety nets. */
const liveServers = new Set<NatsServerProcess>();
const liveChildren = new Set<ChildProcess>();

function killChildrenOnExit(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const server of liveServers) rmSync(server.storeDir, { recursive: true, force: true });
}

function track(child: ChildProcess): void {
  if (liveChildren.size === 0) process.on('exit', killChildrenOnExit);
  liveChildren.add(child);
  child.once('exit', () => {
    liveChildren.delete(child);
    if (liveChildren.size === 0) process.off('exit', killChildrenOnExit);
  });
}

/**
 * Free TCP ports on the loopback, found by binding port 0; all held until every one is known so
 * that one call never returns the same port twice.
 * @param count how many ports
 * @return the port numbers
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no TCP port bound');
      ports.push(address.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

class NatsServerProcess implements NatsServerHandle {
  readonly url: string;
  readonly configFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  constructor(
    readonly port: number,
    readonly storeDir: string,
    configText: string,
    private readonly readyTimeoutMs: number,
  ) {
    this.url = `nats://127.0.0.1:${port}`;
    this.configFile = join(storeDir, 'nats-server.conf');
    writeFileSync(this.configFile, configText);
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  log(): string {
    return this.output;
  }

  async start(): Promise<void> {
    this.output = '';
    const child = spawn(natsServerBinary(), ['-c', this.configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    track(child);
    liveServers.add(this);
    this.child = child;
    // 'close' rather than 'exit': the log is complete only once stdout and stderr have closed.
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
    });
    const append = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-LOG_LIMIT);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    try {
      await this.waitForLog(READY_LINE, this.readyTimeoutMs);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** Resolves when the running process has logged `text`; fails on exit or timeout. */
  waitForLog(text: string | RegExp, timeoutMs: number): Promise<void> {
    const child = this.child;
    if (!child) return Promise.reject(this.failure(`is not running, so cannot log "${text}"`));
    const seen = (): boolean =>
      typeof text === 'string' ? this.output.includes(text) : text.test(this.output);
    return new Promise((resolve, reject) => {
      const finish = (error?: Error): void => {
        clearTimeout(timer);
        child.stderr?.off('data', onData);
        child.stdout?.off('data', onData);
        child.off('close', onExit);
        if (error) reject(error);
        else resolve();
      };
      const onData = (): void => {
        if (seen()) finish();
      };
      const onExit = (code: number | null, signal: string | null): void =>
        finish(this.failure(`exited (code ${code}, signal ${signal}) before logging "${text}"`));
      const timer = setTimeout(
        () => finish(this.failure(`did not log "${text}" within ${timeoutMs} ms`)),
        timeoutMs,
      );
      // Listeners added after `append`, so the output already holds each chunk when checked.
      child.stderr?.on('data', onData);
      child.stdout?.on('data', onData);
      child.once('close', onExit);
      onData();
    });
  }

  private failure(what: string): Error {
    return new Error(`nats-server on port ${this.port} ${what}; its log:\n${this.output.trim()}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(escalate);
  }

  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops the process and deletes its directory: the end of this server. */
  async dispose(): Promise<void> {
    await this.kill();
    liveServers.delete(this);
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/**
 * The config file text of one server: loopback only, the given port, JetStream and cluster
 * blocks when asked, then the caller's extra text.
 */
function configText(port: number, storeDir: string, options: NatsServerOptions): string {
  const lines = ['host: 127.0.0.1', `port: ${port}`];
  if (options.serverName) lines.push(`server_name: ${JSON.stringify(options.serverName)}`);
  if (options.jetstream) {
    lines.push(`jetstream { store_dir: ${JSON.stringify(join(storeDir, 'jetstream'))} }`);
  }
  if (options.cluster) {
    const { name, port: routePort, routePorts } = options.cluster;
    const routes = routePorts.map((p) => JSON.stringify(`nats-route://127.0.0.1:${p}`));
    lines.push(
      `cluster { name: ${JSON.stringify(name)}, host: 127.0.0.1, port: ${routePort}, routes: [${routes.join(', ')}] }`,
    );
  }
  if (options.config) lines.push(options.config);
  return `${lines.join('\n')}\n`;
}

/**
 * Starts a real nats-server on the loopback and resolves once it accepts connections.
 * Every server is stopped by `stopAllNatsServers()` (run after each test file by
 * spec/support/after-env.ts) and killed on process exit; tests may still stop it themselves.
 * @example
 * const server = await startNatsServer({ jetstream: true });
 * const nc = await connect({ servers: server.url });
 * @param options JetStream, extra config text, a fixed port, cluster membership
 * @return the running server's handle
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  // A port found free may be taken before the server binds it: pick another, a few times.
  const attempts = options.port === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freePorts(1))[0];
    const storeDir = mkdtempSync(join(tmpdir(), 'backbeat-nats-'));
    const server = new NatsServerProcess(
      port,
      storeDir,
      configText(port, storeDir, options),
      options.readyTimeoutMs ?? 10_000,
    );
    try {
      await server.start();
      return server;
    } catch (error) {
      const inUse = /address already in use/i.test(server.log());
      await server.dispose();
      if (!inUse || attempt >= attempts) throw error;
    }
  }
}

/** Stops and deletes every server this module started; safe to call at any time, twice. */
export async function stopAllNatsServers(): Promise<void> {
  await Promise.all([...liveServers].map((server) => server.dispose()));
}

/** One permission list: `['a.>']` allows only those; the object form also denies. */
export type NatsPermission =
  readonly string[] | { allow?: readonly string[]; deny?: readonly string[] };

/** A user of {@link authorizationConfig}. */
export interface NatsUser {
  user: string;
  password: string;
  permissions?: { publish?: NatsPermission; subscribe?: NatsPermission };
}

function permissionText(permission: NatsPermission): string {
  const list = (subjects: readonly string[]): string => JSON.stringify(subjects);
  if (Array.isArray(permission)) return list(permission as readonly string[]);
  const { allow, deny } = permission as { allow?: readonly string[]; deny?: readonly string[] };
  const parts = [allow && `allow: ${list(allow)}`, deny && `deny: ${list(deny)}`];
  return `{ ${parts.filter(Boolean).join(', ')} }`;
}

/**
 * The `authorization { ... }` config block for a token or for users with permissions, to pass
 * as `startNatsServer({ config })`.
 * @example
 * startNatsServer({ config: authorizationConfig({ token: 's3cret' }) });
 * @param auth a token, or users (each with optional publish/subscribe permissions)
 * @return config text
 */
export function authorizationConfig(
  auth: { token: string } | { users: readonly NatsUser[] },
): string {
  if ('token' in auth) return `authorization { token: ${JSON.stringify(auth.token)} }`;
  const users = auth.users.map(({ user, password, permissions }) => {
    const fields = [`user: ${JSON.stringify(user)}`, `password: ${JSON.stringify(password)}`];
    if (permissions) {
      const rules = [
        permissions.publish && `publish: ${permissionText(permissions.publish)}`,
        permissions.subscribe && `subscribe: ${permissionText(permissions.subscribe)}`,
      ];
      fields.push(`permissions: { ${rules.filter(Boolean).join(', ')} }`);
    }
    return `    { ${fields.join(', ')} }`;
  });
  return `authorization {\n  users: [\n${users.join('\n')}\n  ]\n}`;
}

/** A cluster started by {@link startNatsCluster}. */
export interface NatsClusterHandle {
  readonly servers: readonly NatsServerHandle[];
  /** Every member's client URL, for `connect({ servers })`. */
  readonly urls: string[];
  /** Stops every member gracefully. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster of nats-servers on the loopback, routes between all of them; with JetStream,
 * resolves only once every member knows the metadata leader (streams can be created).
 * @example
 * const cluster = await startNatsCluster({ size: 3, jetstream: true });
 * const nc = await connect({ servers: cluster.urls });
 * @param options size (default 3), JetStream, extra config text for every member
 * @return the running cluster
 */
export async function startNatsCluster(
  options: { size?: number; jetstream?: boolean; config?: string; readyTimeoutMs?: number } = {},
): Promise<NatsClusterHandle> {
  try {
    return await startNatsClusterOnce(options);
  } catch {
    // nats-server 2.9 can lose a route to a duplicate-route race at start and then never elect
    // a JetStream metadata leader ("Waiting for routing to be established..."): a fresh
    // cluster on new ports, once. A second failure is reported with its logs.
    return startNatsClusterOnce(options);
  }
}

async function startNatsClusterOnce(options: {
  size?: number;
  jetstream?: boolean;
  config?: string;
  readyTimeoutMs?: number;
}): Promise<NatsClusterHandle> {
  const size = options.size ?? 3;
  const ports = await freePorts(size * 2);
  const clientPorts = ports.slice(0, size);
  const routePorts = ports.slice(size);
  const name = `c${clientPorts[0]}`;
  const timeoutMs = options.readyTimeoutMs ?? 20_000;
  const servers = (await Promise.all(
    clientPorts.map((port, i) =>
      startNatsServer({
        port,
        jetstream: options.jetstream,
        config: options.config,
        serverName: `n${i + 1}-${port}`,
        cluster: { name, port: routePorts[i], routePorts },
        readyTimeoutMs: timeoutMs,
      }),
    ),
  )) as NatsServerProcess[];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  if (options.jetstream) {
    try {
      await Promise.all(servers.map((server) => server.waitForLog(/metadata leader/, timeoutMs)));
    } catch (error) {
      await stop();
      throw error;
    }
  }
  return { servers, urls: servers.map((server) => server.url), stop };
}
