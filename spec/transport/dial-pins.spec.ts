/**
 * What lib/transport/dial.ts relies on in nats.js, pinned: each test fails when a nats.js upgrade
 * changes one of those things (the "is needed" tests of dial.spec.ts fail once nats.js fixes the
 * faults itself). Upgrading nats: run these, then move the range the package declares.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { connect, Events, type NatsConnection } from 'nats';
import { NatsConnectionImpl, ProtocolHandler } from 'nats/lib/src/nats-base-client';
import { NodeTransport } from 'nats/lib/src/node_transport';
import { connectNats } from '../../lib/transport/dial';
import { startNatsServer, type NatsServerHandle } from '../support/nats-server';
import { startSilentHost, type SilentHost } from '../support/silent-host';

/** Whether `version` (x.y.z) is in `range`, a caret range `^x.y` or `^x.y.z`. */
function inCaretRange(version: string, range: string): boolean {
  const wanted = /^\^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(range);
  const got = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!wanted || !got) throw new Error(`cannot compare ${version} with ${range}`);
  const [major, minor, patch] = got.slice(1).map(Number);
  const [floorMajor, floorMinor, floorPatch = 0] = wanted.slice(1).map((n) => Number(n ?? 0));
  if (major !== floorMajor) return false;
  return minor > floorMinor || (minor === floorMinor && patch >= floorPatch);
}

/** Resolves at the next event of `type` on `nc`'s status feed (watched from now). */
function nextStatus(nc: NatsConnection, type: Events): Promise<void> {
  const feed = nc.status();
  return (async () => {
    for await (const status of feed) if (status.type === type) return;
    throw new Error(`the connection closed before ${type}`);
  })();
}

/** The SDK's transport: nats.js's Node transport, subclassed. */
function isSdkTransport(transport: unknown): boolean {
  return transport instanceof NodeTransport && transport.constructor !== NodeTransport;
}

describe('what connectNats relies on in nats.js', () => {
  it('runs on a nats.js in the range the package declares', () => {
    const root = join(__dirname, '..', '..');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      peerDependencies: Record<string, string>;
    };
    const installed = (
      JSON.parse(readFileSync(require.resolve('nats/package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
    const declared = pkg.peerDependencies.nats;
    expect({ installed, declared, inRange: inCaretRange(installed, declared) }).toEqual({
      installed,
      declared,
      inRange: true,
    });
    // The floor of the range is the minor these tests run on: a declared 2.29 is a tested one.
    expect(declared.replace(/^\^/, '').split('.').slice(0, 2)).toEqual(
      installed.split('.').slice(0, 2),
    );
  });

  describe('against a real server', () => {
    let server: NatsServerHandle;
    beforeAll(async () => {
      server = await startNatsServer();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('NatsConnectionImpl.connect calls its new protocol handler’s dialLoop synchronously', async () => {
      const prototype = ProtocolHandler.prototype;
      const dialLoop = Object.getOwnPropertyDescriptor(prototype, 'dialLoop')?.value as
        ((this: ProtocolHandler) => Promise<void>) | undefined;
      expect(typeof dialLoop).toBe('function');
      const called: ProtocolHandler[] = [];
      prototype.dialLoop = function (this: ProtocolHandler) {
        called.push(this);
        return dialLoop!.call(this);
      };
      let connecting: Promise<NatsConnection>;
      try {
        connecting = connect({ servers: server.url });
        // Still inside the call: nothing else has run.
        expect(called).toHaveLength(1);
      } finally {
        prototype.dialLoop = dialLoop!;
      }
      const nc = (await connecting) as NatsConnectionImpl;
      try {
        expect(nc.protocol).toBe(called[0]);
      } finally {
        await nc.close();
      }
    });

    it('every dial of a connection, the first and each reconnect, uses the transport its handler’s `transport` gives back', async () => {
      const nc = (await connectNats({
        servers: server.url,
        reconnectTimeWait: 50,
      })) as NatsConnectionImpl;
      try {
        const first = nc.protocol.transport as NodeTransport;
        expect(isSdkTransport(first)).toBe(true);
        await expectCarriesTraffic(nc, first);
        const back = nextStatus(nc, Events.Reconnect);
        await server.restart();
        await back;
        const second = nc.protocol.transport as NodeTransport;
        expect(second).not.toBe(first);
        expect(isSdkTransport(second)).toBe(true);
        await expectCarriesTraffic(nc, second);
      } finally {
        await nc.close();
      }
    });

    /** `transport` is connected and its socket carries the connection's traffic. */
    async function expectCarriesTraffic(nc: NatsConnection, transport: NodeTransport) {
      expect(transport.connected).toBe(true);
      const socket = transport.socket;
      expect(socket.remotePort).toBe(server.port);
      const written = socket.bytesWritten;
      const read = socket.bytesRead;
      nc.publish('dial.pin', new Uint8Array(64));
      await nc.flush();
      expect(socket.bytesWritten).toBeGreaterThan(written + 64);
      expect(socket.bytesRead).toBeGreaterThan(read);
    }

    it('NodeTransport.connect dials with its `dial`, sets `socket` to what it returns, and `connected` once INFO came', async () => {
      const dialled: { hostname: string; port: number }[] = [];
      let socket: Socket | undefined;
      class Probe extends NodeTransport {
        override async dial(hp: { hostname: string; port: number }): Promise<Socket> {
          dialled.push({ hostname: hp.hostname, port: hp.port });
          socket = await super.dial(hp);
          return socket;
        }
      }
      const transport = new Probe();
      await transport.connect({ hostname: '127.0.0.1', port: server.port, tlsName: '' }, {});
      try {
        expect(dialled).toEqual([{ hostname: '127.0.0.1', port: server.port }]);
        expect(transport.socket).toBe(socket);
        expect(transport.connected).toBe(true);
      } finally {
        await transport.close();
      }
      expect(socket?.destroyed).toBe(true);
    });
  });

  describe('against a host that never speaks NATS', () => {
    let silent: SilentHost;
    let port: number;
    beforeAll(async () => {
      silent = await startSilentHost();
      port = silent.port;
    });
    afterAll(() => silent.stop());

    it('NodeTransport has its `socket` set and is not `connected` while it waits for INFO', async () => {
      const transport = new NodeTransport();
      const accept = silent.nextAccepted();
      const connecting = transport.connect({ hostname: '127.0.0.1', port, tlsName: '' }, {});
      connecting.catch(() => undefined);
      const { closed } = await accept;
      // The peer's accept and the client's connect callback come in either order.
      while ((transport.socket as Socket | undefined) === undefined) {
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(transport.connected).toBe(false);
      expect(transport.socket.remotePort).toBe(port);
      // Ending it as the SDK's transport does: nats.js's connect then fails.
      transport.socket.destroy();
      await expect(connecting).rejects.toBeDefined();
      await closed;
    });
  });
});
